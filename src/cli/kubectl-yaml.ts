// A fast reader for the YAML that `kubectl get -o yaml` writes (go-yaml's block style): block
// mappings and sequences, plain, quoted and literal-block scalars, `{}` and `[]`. The general YAML
// parser spends about a millisecond per object building its document model (40 s for a
// 10,000-Service snapshot); this reads the same text in well under a second. Anything outside that
// subset (anchors, tags, flow collections, folded or multi-line scalars, comments, several
// documents) throws Unsupported, and the caller falls back to the full parser for that part.

export class Unsupported extends Error {}

interface Line {
  indent: number;
  /** The text after the indentation, trailing spaces dropped. */
  text: string;
  /** The text after the indentation as written (block scalars keep trailing spaces). */
  raw: string;
}

const PLAIN_SPECIAL = /^[&*!|>%@`'"{[\]},#?:-]|^-$|: | #|:$|\t/;

function resolvePlain(s: string): unknown {
  if (s === '' || s === '~' || s === 'null' || s === 'Null' || s === 'NULL') return null;
  if (s === 'true' || s === 'True' || s === 'TRUE') return true;
  if (s === 'false' || s === 'False' || s === 'FALSE') return false;
  if (/^[-+]?[0-9]+$/.test(s)) {
    const n = Number(s);
    if (!Number.isSafeInteger(n)) throw new Unsupported('large integer');
    return n;
  }
  if (/^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$/.test(s)) return Number(s);
  if (/^0x|^0o|^[-+]?\.(?:inf|Inf|INF|nan|NaN|NAN)$/.test(s)) throw new Unsupported('special number');
  if (PLAIN_SPECIAL.test(s)) throw new Unsupported(`plain scalar ${s.slice(0, 20)}`);
  return s;
}

function doubleQuoted(s: string): string {
  if (!s.endsWith('"') || s.length < 2) throw new Unsupported('multi-line double-quoted scalar');
  const inner = s.slice(1, -1);
  // JSON's escapes are a subset of YAML's; anything else (\x, \e, \N, \_...) is not ours.
  if (/\\[^"\\/bfnrtu]/.test(inner) || /(^|[^\\])(\\\\)*"/.test(inner)) throw new Unsupported('escape');
  return JSON.parse(`"${inner}"`) as string;
}

function singleQuoted(s: string): string {
  if (!s.endsWith("'") || s.length < 2) throw new Unsupported('multi-line single-quoted scalar');
  const inner = s.slice(1, -1);
  if (/(^|[^'])'(?!')/.test(inner.replace(/''/g, ''))) throw new Unsupported('quote');
  return inner.replace(/''/g, "'");
}

function scalar(s: string): unknown {
  if (s === '{}') return {};
  if (s === '[]') return [];
  if (s.startsWith('"')) return doubleQuoted(s);
  if (s.startsWith("'")) return singleQuoted(s);
  return resolvePlain(s);
}

/** Splits "key: value" (or "key:"); the key plain or quoted. */
function splitKey(text: string): [string, string] | undefined {
  let key: string;
  let rest: string;
  if (text.startsWith('"') || text.startsWith("'")) {
    const q = text[0] ?? '"';
    let end = 1;
    while (end < text.length) {
      if (text[end] === '\\' && q === '"') end += 2;
      else if (text[end] === q && q === "'" && text[end + 1] === "'") end += 2;
      else if (text[end] === q) break;
      else end += 1;
    }
    key = q === '"' ? doubleQuoted(text.slice(0, end + 1)) : singleQuoted(text.slice(0, end + 1));
    rest = text.slice(end + 1);
    if (!rest.startsWith(':')) return undefined;
  } else {
    const i = text.search(/:( |$)/);
    if (i <= 0) return undefined;
    key = text.slice(0, i);
    if (PLAIN_SPECIAL.test(key) || key === '<<') throw new Unsupported(`key ${key.slice(0, 20)}`);
    rest = text.slice(i);
  }
  return [key, rest.slice(1).replace(/^ +/, '')];
}

class Reader {
  private i = 0;
  constructor(private readonly lines: Line[]) {}

  parse(): unknown {
    const first = this.peek();
    if (!first) return null;
    const v = this.node(first.indent);
    if (this.peek()) throw new Unsupported('content after the top-level node');
    return v;
  }

  /** The next non-blank line (blank lines matter only inside block scalars). */
  private peek(): Line | undefined {
    while (this.lines[this.i]?.text === '') this.i += 1;
    return this.lines[this.i];
  }

  private node(indent: number): unknown {
    const line = this.peek();
    if (!line || line.indent !== indent) throw new Unsupported('indentation');
    if (line.text === '-' || line.text.startsWith('- ')) return this.sequence(indent);
    return this.mapping(indent);
  }

  private sequence(indent: number): unknown[] {
    const out: unknown[] = [];
    for (let line = this.peek(); line && line.indent === indent; line = this.peek()) {
      if (line.text === '-') {
        this.i += 1;
        const next = this.peek();
        out.push(next && next.indent > indent ? this.node(next.indent) : null);
        continue;
      }
      if (!line.text.startsWith('- ')) break;
      const rest = line.text.slice(2).replace(/^ +/, '');
      const inner = indent + (line.text.length - rest.length);
      if (rest.startsWith('- ')) throw new Unsupported('nested inline sequence');
      if (splitKey(rest)) {
        // "- key: value": a mapping whose first line shares the dash's line.
        this.lines[this.i] = { indent: inner, text: rest, raw: rest };
        out.push(this.mapping(inner));
      } else {
        this.i += 1;
        out.push(scalar(rest));
      }
    }
    return out;
  }

  private mapping(indent: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (let line = this.peek(); line && line.indent === indent; line = this.peek()) {
      if (line.text.startsWith('- ') || line.text === '-') break;
      const kv = splitKey(line.text);
      if (!kv) throw new Unsupported(`not a key: ${line.text.slice(0, 20)}`);
      const [key, value] = kv;
      if (Object.prototype.hasOwnProperty.call(out, key)) throw new Unsupported('duplicate key');
      this.i += 1;
      let v: unknown;
      if (value === '') {
        const next = this.peek();
        if (next && next.indent > indent) v = this.node(next.indent);
        else if (next && next.indent === indent && (next.text.startsWith('- ') || next.text === '-'))
          v = this.sequence(indent);
        else v = null;
      } else if (/^[|>]/.test(value)) {
        v = this.block(value, indent);
      } else {
        v = scalar(value);
      }
      // A key named __proto__ must be data, never the prototype.
      Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
    }
    return out;
  }

  /** A literal block scalar (`|`, `|-`, `|+`); its lines are stored raw (see readLines). */
  private block(header: string, indent: number): string {
    const m = /^\|([-+]?)$/.exec(header);
    if (!m) throw new Unsupported('folded or indented block scalar');
    const chomp = m[1];
    const body: string[] = [];
    let contentIndent = -1;
    for (let line = this.lines[this.i]; line; line = this.lines[this.i]) {
      if (line.text === '') {
        body.push('');
        this.i += 1;
        continue;
      }
      if (line.indent <= indent) break;
      if (contentIndent === -1) contentIndent = line.indent;
      if (line.indent < contentIndent) throw new Unsupported('block indentation');
      body.push(' '.repeat(line.indent - contentIndent) + line.raw);
      this.i += 1;
    }
    // Blank lines were kept as lines; chomping decides about the trailing ones.
    let end = body.length;
    while (end > 0 && body[end - 1] === '') end -= 1;
    const text = body.slice(0, end).join('\n');
    if (chomp === '-') return text;
    if (chomp === '+') return text + '\n'.repeat(body.length - end + 1);
    return text === '' ? '' : text + '\n';
  }
}

/** Parses kubectl-style YAML; throws Unsupported when the text leaves that subset. */
export function parseKubectlYaml(text: string): unknown {
  const lines: Line[] = [];
  for (const whole of text.split('\n')) {
    const l = whole.endsWith('\r') ? whole.slice(0, -1) : whole;
    const body = l.trimStart();
    if (body === '') {
      lines.push({ indent: 0, text: '', raw: '' });
      continue;
    }
    const indent = l.length - body.length;
    if (l.slice(0, indent).includes('\t')) throw new Unsupported('tab indentation');
    if (body.startsWith('#') || body === '---' || body === '...' || body.startsWith('--- ')) {
      throw new Unsupported('comments or document markers');
    }
    lines.push({ indent, text: body.trimEnd(), raw: body });
  }
  return new Reader(lines).parse();
}
