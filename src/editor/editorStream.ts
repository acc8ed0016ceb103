/**
 * Streams generated text into an editor as it arrives. All edits but the first are made without
 * undo stops, so the whole generation is one undo step; edits are applied one at a time in order.
 */
import * as vscode from 'vscode';
import type { Ctx } from '../context';
import type { GenerateRequest, TokenTrace } from '../inference/protocol';

export class EditorStream {
  /** What the range holds now; undefined until the first edit replaces the original text. */
  private shown: string | undefined;
  private target = '';
  private flushing: Promise<void> | undefined;
  private broken = false;

  /**
   * @param startOffset where the range starts
   * @param originalLength length of the text the stream replaces (0 to insert)
   */
  constructor(
    private readonly editor: vscode.TextEditor,
    private readonly startOffset: number,
    private readonly originalLength = 0,
  ) {}

  /** False once the editor refused an edit (closed, or the document changed under it). */
  get ok(): boolean {
    return !this.broken;
  }

  update(text: string): void {
    this.target = text;
    if (!this.flushing) this.flushing = this.flush();
  }

  /** Applies the final text, closes the undo step and puts the cursor after the text. */
  async finish(text?: string): Promise<void> {
    if (text !== undefined) this.update(text);
    await this.flushing;
    if (this.broken || this.shown === undefined) return;
    // The last edit (a replacement with the same text) carries the undo stop after the whole step.
    await this.apply(this.shown, true);
    const end = this.editor.document.positionAt(this.startOffset + this.shown.length);
    this.editor.selection = new vscode.Selection(end, end);
    this.editor.revealRange(new vscode.Range(end, end));
  }

  private async flush(): Promise<void> {
    while (!this.broken && this.shown !== this.target) {
      await this.apply(this.target, false);
    }
    this.flushing = undefined;
  }

  private async apply(text: string, last: boolean): Promise<void> {
    const doc = this.editor.document;
    const start = doc.positionAt(this.startOffset);
    const first = this.shown === undefined;
    const currentLength = this.shown === undefined ? this.originalLength : this.shown.length;
    const end = doc.positionAt(this.startOffset + currentLength);
    const ok = await this.editor.edit(
      (edit) => {
        if (!last && this.shown !== undefined && text.startsWith(this.shown)) edit.insert(end, text.slice(this.shown.length));
        else edit.replace(new vscode.Range(start, end), text);
      },
      { undoStopBefore: first, undoStopAfter: last },
    );
    if (ok) this.shown = text;
    else this.broken = true;
  }
}

/** Names for one streamed generation. */
export interface StreamLabels {
  /** Shown while the generation holds the slot ("Continuing at the cursor"). */
  readonly activity: string;
  /** Progress notification title. */
  readonly progress: string;
  /** Kept with the last generation and in the log ("Continuation"). */
  readonly title: string;
  /** Names the command in error messages ("Continue"). */
  readonly command: string;
}

/** How a streamed generation may end early and be cut (Continue at Cursor's confidence cut). */
export interface StreamCut {
  /** Stops the generation at this token: it and what follows are not written. */
  readonly stopAt: (token: TokenTrace) => boolean;
  /** The text to keep of the generation (streamed text up to the stopping token included). */
  readonly keep: (text: string, tokens: readonly TokenTrace[]) => string;
}

/**
 * Runs a generation and streams it into `editor` at `offset`: shared by continue and generate.
 * Returns the inserted text (partial when stopped), or undefined when nothing was written.
 */
export async function streamIntoEditor(ctx: Ctx, editor: vscode.TextEditor, offset: number, request: GenerateRequest, labels: StreamLabels, cut?: StreamCut): Promise<string | undefined> {
  const stream = new EditorStream(editor, offset);
  let streamed = '';
  const stop = new AbortController();
  const ran = await ctx.run(request, {
    label: labels.activity,
    action: labels.command,
    progress: labels.progress,
    remember: labels.title,
    ...(cut ? { signal: stop.signal } : {}),
    stream: (token, text) => {
      if (stop.signal.aborted) return;
      if (cut?.stopAt(token)) {
        stop.abort();
        return;
      }
      streamed = text;
      stream.update(text);
    },
  });
  const final = ran && cut ? cut.keep(ran.result.text, ran.result.tokens) : ran?.result.text;
  // Without a result (stopped before the engine returned one) what was streamed stays.
  await stream.finish(final);
  if (ran && !stream.ok) void vscode.window.showWarningMessage('Local LM Lens: the editor changed while text was streaming; the generation stopped.');
  return final ?? (streamed || undefined);
}
