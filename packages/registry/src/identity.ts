import * as os from 'node:os';

/** Who is writing, for the records: $CATWALK_USER, else user@host. */
export function whoAmI(): string {
  if (process.env.CATWALK_USER) return process.env.CATWALK_USER;
  let user = 'unknown';
  try {
    user = os.userInfo().username;
  } catch {
    // no passwd entry (containers running as an arbitrary uid)
  }
  return `${user}@${os.hostname()}`;
}
