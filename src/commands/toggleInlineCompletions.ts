/** Toggle inline completions (in the user's settings, so it holds in every workspace); returns the new state. */
import { inlineSetting, setInlineEnabled } from '../config';

export async function toggleInlineCompletions(args: { enabled?: boolean } = {}): Promise<boolean> {
  const enabled = args.enabled ?? !inlineSetting();
  await setInlineEnabled(enabled);
  return enabled;
}
