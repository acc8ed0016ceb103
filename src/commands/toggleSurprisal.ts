/** Toggle surprisal highlighting (GLTR colours in the editor); returns the new state. */
import type { SurprisalHighlighter } from '../editor/surprisalHighlighter';

export function toggleSurprisal(highlighter: SurprisalHighlighter, args: { enabled?: boolean } = {}): Promise<boolean> {
  return highlighter.toggle(args.enabled);
}
