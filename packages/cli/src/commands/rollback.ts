// `catwalk rollback` shares its output with release (commands/release.ts).
export { rollbackCommand } from './release';
