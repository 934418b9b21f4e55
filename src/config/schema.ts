/**
 * The vocabulary of the option registry: what an option declaration may say, and how the
 * TypeScript type of its value is derived from the declaration. The registry itself (sections/*.ts)
 * is plain `as const` data checked against these types, so one declaration gives the parser its
 * rules, the Config object its type and docs/configuration.md its text.
 */

/** Upstream releases this project tracks: Debian's Zed packages and the 2026 upstream snapshot. */
export type UpstreamRelease = 'zed' | '2026';

/**
 * How a value is written in keystone.conf:
 * - `string`: any text; `path`: a file or directory name (not resolved, not checked for existence);
 * - `uri`: an absolute URL with a host (oslo's URIOpt); `address`: `host:port`;
 * - `int` / `float`: decimal numbers, optionally bounded by `min` / `max`;
 * - `bool`: oslo's spellings, true/false, yes/no, on/off, 1/0, in any case;
 * - `enum`: one of `choices`, case-sensitive like oslo;
 * - `list`: comma-separated (oslo's ListOpt), optionally each item one of `itemChoices`;
 * - `multi`: repeatable, every assignment adds one item (oslo's MultiStrOpt);
 * - `dict`: `key:value,key:value` (oslo's DictOpt).
 */
export type OptionType = OptionSpec['type'];

/** An older name that still sets the option: `[section] name`; section defaults to the option's own. */
export interface DeprecatedName {
  readonly section?: string;
  readonly name: string;
}

interface OptionCommon {
  /** Operator documentation, rendered into docs/configuration.md. Markdown (backticks) allowed. */
  readonly help: string;
  readonly deprecatedNames?: readonly DeprecatedName[];
  /** Deprecated upstream (for removal); still honoured where it has an effect. */
  readonly deprecated?: boolean;
  /** Never echoed in error messages (passwords, keys, database URLs with credentials). */
  readonly secret?: boolean;
  /** Accepted so that an existing keystone.conf loads, but keystone-ts does not act on it. */
  readonly inert?: boolean;
  /** Exists in only one of the upstream releases; accepted either way. */
  readonly only?: UpstreamRelease;
}

export type OptionSpec =
  | (OptionCommon & {
      readonly type: 'string' | 'path' | 'uri' | 'address';
      readonly default: string | null;
    })
  | (OptionCommon & {
      readonly type: 'int' | 'float';
      readonly default: number | null;
      readonly min?: number;
      readonly max?: number;
    })
  | (OptionCommon & { readonly type: 'bool'; readonly default: boolean | null })
  | (OptionCommon & {
      readonly type: 'enum';
      readonly default: string | null;
      readonly choices: readonly string[];
    })
  | (OptionCommon & {
      readonly type: 'list';
      readonly default: readonly string[] | null;
      readonly itemChoices?: readonly string[];
    })
  | (OptionCommon & { readonly type: 'multi'; readonly default: readonly string[] })
  | (OptionCommon & { readonly type: 'dict'; readonly default: Readonly<Record<string, string>> | null });

export interface SectionSpec {
  /** Who defines the section upstream: `keystone`, an oslo library, or `keystone-ts`. */
  readonly origin: string;
  readonly help: string;
  /** Every option of the section is accepted, no effect. */
  readonly inert?: boolean;
  readonly only?: UpstreamRelease;
  readonly options: Readonly<Record<string, OptionSpec>>;
}

export type RegistrySpec = Readonly<Record<string, SectionSpec>>;

/**
 * A section of an oslo library that keystone-ts neither reads nor validates: any option is
 * accepted and ignored. Used where the library's option set changes between releases and nothing
 * in it affects keystone-ts (message-bus transports, profiler, ...).
 */
export interface PassthroughSectionSpec {
  readonly origin: string;
  readonly help: string;
}

type BaseValue<O> = O extends { readonly type: 'int' | 'float' }
  ? number
  : O extends { readonly type: 'bool' }
    ? boolean
    : O extends { readonly type: 'enum'; readonly choices: readonly (infer C)[] }
      ? C
      : O extends { readonly type: 'list'; readonly itemChoices: readonly (infer C)[] }
        ? readonly C[]
        : O extends { readonly type: 'list' | 'multi' }
          ? readonly string[]
          : O extends { readonly type: 'dict' }
            ? Readonly<Record<string, string>>
            : string;

/** The value type of one declared option: `null` is possible exactly when the default is null. */
export type OptionValue<O> = O extends { readonly default: null } ? BaseValue<O> | null : BaseValue<O>;

/** The Config shape of a registry: `config.<section>.<option>`, Keystone's own names, all readonly. */
export type ConfigOf<R extends RegistrySpec> = {
  readonly [S in keyof R]: {
    readonly [K in keyof R[S]['options']]: OptionValue<R[S]['options'][K]>;
  };
};
