/**
 * The auth-method bitmask of Fernet payloads and receipts (spec 1.4), as
 * `keystone.auth.plugins.core.convert_method_list_to_integer` / `convert_integer_to_method_list`.
 *
 * Bits are assigned in `[auth] methods` order (1, 2, 4, ...), so both Keystone and this service
 * must be configured with the same list in the same order. The pseudo-methods of EC2 and OAuth2
 * tokens have fixed bits above the configurable ones (Debian Zed backport; spec 1.4).
 *
 * Bits can go past 2^31 (2^32 and 2^33 are fixed), where JavaScript's bitwise operators wrap,
 * so everything here is plain arithmetic on doubles, exact up to 2^53.
 */

/** Fixed bits of methods that are not auth plugins and so never in `[auth] methods`. */
export const PSEUDO_METHOD_BITS: ReadonlyMap<number, string> = new Map([
  [2 ** 32, 'ec2credential'],
  [2 ** 33, 'oauth2_credential'],
]);

export class AuthMethodCodec {
  /** bit → method, as Keystone's `method_map` (later entries win on a clash, as `dict.update`). */
  readonly #methodByBit = new Map<number, string>();
  /** Bits in descending order, the order in which Keystone decodes. */
  readonly #bitsDescending: readonly number[];

  /** @param configuredMethods `[auth] methods`, in configuration order. */
  constructor(readonly configuredMethods: readonly string[]) {
    let bit = 1;
    for (const method of configuredMethods) {
      this.#methodByBit.set(bit, method);
      bit *= 2;
    }
    for (const [pseudoBit, method] of PSEUDO_METHOD_BITS) this.#methodByBit.set(pseudoBit, method);
    this.#bitsDescending = [...this.#methodByBit.keys()].sort((a, b) => b - a);
  }

  /**
   * Sum of the bits of each method. A method that is not configured adds nothing (Keystone drops
   * it silently); a method listed twice adds twice, as in Keystone, whose callers de-duplicate.
   */
  encode(methods: readonly string[]): number {
    let sum = 0;
    for (const method of methods) {
      for (const [bit, name] of this.#methodByBit) {
        if (name === method) sum += bit;
      }
    }
    return sum;
  }

  /**
   * Methods of a bitmask, highest bit first. Keystone's loop is `if int(n / bit) == 1` with float
   * division, not a bit test: a value with an unknown high bit therefore matches nothing below it,
   * and that quirk is kept.
   */
  decode(mask: number): string[] {
    const methods: string[] = [];
    if (mask === 0) return methods;
    let rest = mask;
    for (const bit of this.#bitsDescending) {
      if (Math.trunc(rest / bit) === 1) {
        methods.push(this.#methodByBit.get(bit) as string);
        rest -= bit;
      }
    }
    return methods;
  }
}
