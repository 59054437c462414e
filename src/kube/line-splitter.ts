// The line framing of a watch response: chunks of bytes in, complete lines out. Pure (no I/O).
// Lines are cut on the newline byte, which never occurs inside a multibyte UTF-8 sequence, so a
// character split across chunks is decoded whole. The unfinished line is kept as chunks and each
// byte is scanned once: a newline-free stream of tens of MB was quadratic when the whole buffer was
// searched again for every chunk.

const NEWLINE = 0x0a;

export interface SplitResult {
  /** The complete lines in the chunk, trimmed, blank ones left out. */
  lines: string[];
  /**
   * A line grew past the cap: `lines` holds those before it, and the splitter takes no more input
   * (whatever follows may belong to the oversized line).
   */
  tooLong: boolean;
}

export class LineSplitter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private overflowed = false;

  /** `maxLineBytes`: the longest line accepted, in bytes, without its newline. */
  constructor(private readonly maxLineBytes: number) {}

  push(chunk: Buffer | string): SplitResult {
    const lines: string[] = [];
    if (this.overflowed) return { lines, tooLong: true };
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    let start = 0;
    let nl: number;
    while ((nl = bytes.indexOf(NEWLINE, start)) >= 0) {
      if (this.pendingBytes + nl - start > this.maxLineBytes) return this.overflow(lines);
      const piece = bytes.subarray(start, nl);
      const whole = this.pending.length > 0 ? Buffer.concat([...this.pending, piece]) : piece;
      this.pending = [];
      this.pendingBytes = 0;
      start = nl + 1;
      const line = whole.toString('utf8').trim();
      if (line !== '') lines.push(line);
    }
    if (start < bytes.length) {
      this.pending.push(bytes.subarray(start));
      this.pendingBytes += bytes.length - start;
      if (this.pendingBytes > this.maxLineBytes) return this.overflow(lines);
    }
    return { lines, tooLong: false };
  }

  private overflow(lines: string[]): SplitResult {
    this.overflowed = true;
    this.pending = [];
    this.pendingBytes = 0;
    return { lines, tooLong: true };
  }
}
