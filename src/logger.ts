// The logger type every layer takes: pino's. Type-only, so any module may import it without
// depending on how logs are written (observe/log.ts builds the loggers).
export type { Logger } from 'pino';
