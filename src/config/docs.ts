import { pathToFileURL } from 'node:url';
import { ENV_DATA_DIR, PASSTHROUGH, REGISTRY } from './registry.js';
import type { OptionSpec, RegistrySpec, SectionSpec } from './schema.js';

/**
 * docs/configuration.md, generated from the registry so that the documentation cannot drift from
 * what the loader accepts. Regenerate with:
 *
 *     npm run build && node dist/src/config/docs.js > docs/configuration.md
 *
 * test/config/docs.test.ts fails while the committed file differs from this output.
 */
export function renderConfigurationDoc(): string {
  const sections = Object.entries(REGISTRY as RegistrySpec);
  const out: string[] = [INTRO];
  out.push('## Sections', '');
  for (const [name, spec] of sections) {
    out.push(`- [\`[${name}]\`](#${anchor(name)})${spec.inert === true ? ' (accepted, no effect)' : ''}`);
  }
  out.push(`- [Sections accepted whole and ignored](#sections-accepted-whole-and-ignored)`, '');
  for (const [name, spec] of sections) out.push(...renderSection(name, spec));
  out.push('## Sections accepted whole and ignored', '', PASSTHROUGH_INTRO, '');
  out.push('| Section | From | What it is |', '|---|---|---|');
  for (const [name, spec] of Object.entries(PASSTHROUGH)) {
    out.push(`| \`[${name}]\` | ${spec.origin} | ${cell(spec.help)} |`);
  }
  out.push('');
  return out.join('\n');
}

function renderSection(name: string, spec: SectionSpec): string[] {
  const notes = [`From ${spec.origin}.`];
  if (spec.only !== undefined) notes.push(onlyNote(spec.only));
  if (spec.inert === true) notes.push('**Accepted, no effect.**');
  const lines = [`## [${name}]`, '', `${spec.help} ${notes.join(' ')}`, ''];
  lines.push('| Option | Type | Default | Description |', '|---|---|---|---|');
  for (const [option, optionSpec] of Object.entries(spec.options)) {
    lines.push(
      `| \`${option}\` | ${typeOf(optionSpec)} | ${defaultOf(optionSpec)} | ${cell(describeOption(name, spec, optionSpec))} |`,
    );
  }
  lines.push('');
  return lines;
}

function describeOption(section: string, sectionSpec: SectionSpec, spec: OptionSpec): string {
  const parts: string[] = [];
  if (spec.inert === true && sectionSpec.inert !== true && !/accepted, no effect/i.test(spec.help)) {
    parts.push('**Accepted, no effect.**');
  }
  parts.push(spec.help);
  if (spec.deprecated === true) parts.push('*Deprecated upstream.*');
  if (spec.only !== undefined && sectionSpec.only === undefined) parts.push(`*${onlyNote(spec.only)}*`);
  if (spec.deprecatedNames !== undefined && spec.deprecatedNames.length > 0) {
    const names = spec.deprecatedNames.map((old) => `\`[${old.section ?? section}] ${old.name}\``);
    parts.push(`Also read from its deprecated name${names.length > 1 ? 's' : ''} ${names.join(', ')}.`);
  }
  if (spec.secret === true) parts.push('Secret: never shown in error messages.');
  return parts.join(' ');
}

function onlyNote(release: 'zed' | '2026'): string {
  return release === 'zed' ? 'Zed only (removed upstream since).' : 'New since Zed (2026).';
}

function typeOf(spec: OptionSpec): string {
  switch (spec.type) {
    case 'int':
    case 'float':
      return `${spec.type}${range(spec.min, spec.max)}`;
    case 'enum':
      return `one of ${spec.choices.map((c) => (c === '' ? '*(empty)*' : `\`${c}\``)).join(', ')}`;
    case 'list':
      return spec.itemChoices === undefined
        ? 'list'
        : `list of ${spec.itemChoices.map((c) => `\`${c}\``).join(', ')}`;
    case 'multi':
      return 'multi (repeat the line)';
    case 'address':
      return 'host:port';
    case 'uri':
      return 'URL';
    case 'dict':
      return 'dict (`k:v,k:v`)';
    default:
      return spec.type;
  }
}

function range(min: number | undefined, max: number | undefined): string {
  if (min !== undefined && max !== undefined) return ` ${min}–${max}`;
  if (min !== undefined) return ` ≥ ${min}`;
  if (max !== undefined) return ` ≤ ${max}`;
  return '';
}

/** The default as one would write it in keystone.conf. */
function defaultOf(spec: OptionSpec): string {
  const value = spec.default;
  if (value === null) return '*(unset)*';
  if (Array.isArray(value)) return value.length === 0 ? '*(empty)*' : code(value.join(','));
  if (typeof value === 'object') {
    const pairs = Object.entries(value);
    return pairs.length === 0 ? '*(empty)*' : code(pairs.map(([k, v]) => `${k}:${v}`).join(','));
  }
  if (value === '') return '*(empty)*';
  return code(String(value));
}

function code(text: string): string {
  // A backtick inside needs a longer fence; none of the defaults has one, but stay correct.
  return text.includes('`') ? `\`\` ${text} \`\`` : `\`${text}\``;
}

/** Table cells cannot hold a raw `|` or a line break. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');
}

/** GitHub's heading anchors: lower-case, punctuation dropped, spaces to hyphens. */
function anchor(section: string): string {
  return section.toLowerCase().replace(/[^a-z0-9_ -]/g, '').replace(/ /g, '-');
}

const INTRO = `# Configuration

<!-- Generated from src/config/sections/*.ts by \`node dist/src/config/docs.js > docs/configuration.md\`.
     Do not edit by hand: test/config/docs.test.ts fails when this file is stale. -->

keystone-ts reads Keystone's own configuration file, \`keystone.conf\`, with Keystone's section and
option names, types and defaults, so that an existing file works unchanged and one file can serve a
Python Keystone and keystone-ts side by side. Options that only keystone-ts has live in
[\`[keystone_ts]\`](#keystone_ts).

## Where values come from

Later sources override earlier ones:

1. the defaults listed below (2026 upstream defaults where they differ from Zed's);
2. each \`--config-file\`, in the order given;
3. environment variables \`KEYSTONE_TS_<SECTION>__<OPTION>\` (section and option upper-cased, two
   underscores between them), e.g. \`KEYSTONE_TS_TOKEN__EXPIRATION=600\`,
   \`KEYSTONE_TS_DEFAULT__PUBLIC_ENDPOINT=https://id.example.com\`,
   \`KEYSTONE_TS_DATABASE__CONNECTION=postgresql://...\`. \`${ENV_DATA_DIR}\` is short for
   \`KEYSTONE_TS_KEYSTONE_TS__DATA_DIR\`. A list or multi option takes comma-separated items from one
   variable. A variable with the prefix and \`__\` that names no known option is an error; other
   \`KEYSTONE_TS_*\` variables are not configuration and are left alone;
4. values set by the program itself (tests, tools).

## Syntax

The file is read the way oslo.config reads it:

- \`[section]\` starts a section. Section names are case-insensitive, except \`[DEFAULT]\`, which must be
  upper-case. Option names are case-sensitive.
- \`option = value\` or \`option: value\`. Spaces around the value are removed, and so is one pair of
  matching quotes around it (\`password_regex = "^.{8,}$"\`).
- A line starting with \`#\` or \`;\` is a comment. There are **no inline comments**:
  \`expiration = 600 # ten minutes\` sets the value \`600 # ten minutes\` (and fails, not being an integer).
- A line starting with a space or a tab continues the previous value on a new line; a blank line ends
  it. A list can therefore be spread over lines:

  \`\`\`ini
  [auth]
  methods = password,
            token,
            application_credential
  \`\`\`
- The same option twice: the last one wins, except for *multi* options, where every line adds an
  item (across files too) and the lines replace the default; an empty line adds nothing, so
  \`notification_opt_out =\` alone empties that list.
- \`[DEFAULT]\` values are **not** inherited by other sections (unlike Python's ConfigParser).
- Booleans: \`true\`/\`false\`, \`yes\`/\`no\`, \`on\`/\`off\`, \`1\`/\`0\`, in any case.
- An empty value (\`option =\`) unsets an option whose default is unset, gives the empty string for
  other text options, and is an error for numbers and booleans that have a default.

## Validation

Unlike oslo.config, which ignores what it does not know, keystone-ts refuses to start when the
configuration has an unknown section, an unknown option, or a value of the wrong type, out of range or
not among the choices. All problems are reported at once, each naming the file and line (or the
environment variable), the section, the option and the value, for example:

\`\`\`
keystone.conf:12: [token] expiration = "abc": not an integer
\`\`\`

Values of secret options (passwords, keys, database URLs) are never shown.

- **Accepted, no effect**: options (and whole sections) that Keystone or its libraries define but
  keystone-ts does not act on, such as \`[ldap]\` or the caching knobs, are accepted so that an existing
  keystone.conf loads, and reported as warnings when set.
- **Drivers**: the \`driver\` options of the areas keystone-ts serves accept only what it implements
  (SQL on PostgreSQL): \`[identity] driver = ldap\` is refused rather than silently served from SQL.
- **Deprecated names**: an option's old names (\`[DEFAULT] max_request_body_size\` for
  \`[oslo_middleware] max_request_body_size\`, \`[assignment] list_limit\` for \`[resource] list_limit\`, ...)
  still work, with a warning. In one file the current name wins over an old one.
- **Release differences**: options that exist only in Debian's Zed or only in the 2026 upstream are
  accepted either way and marked below.
- \`[keystone_authtoken]\` is keystonemiddleware's section for services that validate Keystone tokens;
  Keystone does not read it, and keystone-ts rejects it as unknown. \`--config-dir\` is not supported.
`;

const PASSTHROUGH_INTRO = `These oslo library sections are accepted with any options and ignored:
keystone-ts does not use the library, and its option set changes from release to release, so checking
option names would only reject working files.`;

/** `node dist/src/config/docs.js > docs/configuration.md` */
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.stdout.write(renderConfigurationDoc());
}
