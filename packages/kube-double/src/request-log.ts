// The API double's request log (programmatic, and GET /_lab/requests): tests assert what a client
// asked for, and when.

export interface RequestLogEntry {
  time: number;
  method: string;
  path: string;
  query: Record<string, string>;
  status: number;
  watch: boolean;
}

/** The newest `limit` requests, oldest first. */
export class RequestLog {
  readonly entries: RequestLogEntry[] = [];

  constructor(private readonly limit: number) {}

  add(entry: RequestLogEntry): void {
    this.entries.push(entry);
    if (this.entries.length > this.limit) this.entries.splice(0, this.entries.length - this.limit);
  }

  clear(): void {
    this.entries.length = 0;
  }
}
