/**
 * Worker-thread entry for `sha512CryptChecksumOffThread`: computes one checksum and exits.
 * It never logs: its input is a password.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { sha512CryptChecksum, type Sha512CryptJob } from './sha512-crypt.js';

const job = workerData as Sha512CryptJob;
parentPort?.postMessage(sha512CryptChecksum(Buffer.from(job.password), job.salt, job.rounds));
