import { BlockList, isIP } from 'node:net';

/** `a.b.c.d/n`, `x::y/n`, or a bare address (one host): normalized to address/length. */
export function parseCidr(text: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | undefined {
  const [address, length, ...rest] = text.split('/');
  if (rest.length > 0 || address === undefined) return undefined;
  const version = isIP(address);
  if (version === 0) return undefined;
  const max = version === 4 ? 32 : 128;
  if (length !== undefined && !/^\d{1,3}$/.test(length)) return undefined;
  const prefix = length === undefined ? max : Number(length);
  if (prefix > max) return undefined;
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

/** Source ranges as a BlockList used as an allow list (unparsable entries are left out: they are refused on write). */
export function allowList(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const parsed = parseCidr(cidr);
    if (parsed) list.addSubnet(parsed.address, parsed.prefix, parsed.family);
  }
  return list;
}

/** The peer address as policies compare it: an IPv4-mapped IPv6 address (a dual-stack socket's) as plain IPv4. */
export function normalizeSource(source: string | undefined): string | undefined {
  if (!source) return undefined;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(source);
  return mapped ? mapped[1]! : source;
}

/** Whether `source` (the socket's peer) is inside one of the ranges; null ranges allow any source. */
export function sourceAllowed(list: BlockList | null, source: string | undefined): boolean {
  if (list === null) return true;
  const address = normalizeSource(source);
  if (!address) return false;
  const family = isIP(address);
  if (family === 0) return false;
  return list.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

/** A range as `address/prefix` (a bare address gets its full length), as every engine's CIDR test reads it. */
export function canonicalCidr(text: string): string {
  const parsed = parseCidr(text);
  return parsed ? `${parsed.address}/${parsed.prefix}` : text;
}
