/**
 * Surprisal highlighting: GLTR in the editor. The visible text of the active editor is scored by
 * the completion model and each token is coloured by its rank bucket; refreshed (debounced) after
 * edits and scrolling. Scoring runs at background priority: it never interrupts a generation.
 */
import * as vscode from 'vscode';
import { alignTokens, formatProb, RANK_BUCKETS, rankBucket, unscoredHead, type RankBucket } from '../analysis/gltr';
import type { Ctx } from '../context';
import { Debouncer } from '../generation/scheduler';

const COLOR_IDS: Record<RankBucket, string> = {
  top10: 'lmLens.rankTop10Background',
  top100: 'lmLens.rankTop100Background',
  top1000: 'lmLens.rankTop1000Background',
  beyond: 'lmLens.rankBeyondBackground',
};

/** Most characters scored per refresh; the visible part of a normal editor fits easily. */
const MAX_CHARS = 6000;

export class SurprisalHighlighter implements vscode.Disposable {
  private enabled = false;
  private readonly types: Record<RankBucket, vscode.TextEditorDecorationType>;
  private readonly debouncer: Debouncer;
  private readonly disposables: vscode.Disposable[] = [];
  private lastError: string | undefined;

  constructor(private readonly ctx: Ctx) {
    this.types = Object.fromEntries(
      RANK_BUCKETS.map((b) => [b.bucket, vscode.window.createTextEditorDecorationType({ backgroundColor: new vscode.ThemeColor(COLOR_IDS[b.bucket]), borderRadius: '2px' })]),
    ) as Record<RankBucket, vscode.TextEditorDecorationType>;
    this.debouncer = new Debouncer(async () => void (await this.refresh()), () => ctx.config.surprisalDebounceMs);
    this.disposables.push(
      ...Object.values(this.types),
      vscode.window.onDidChangeActiveTextEditor(() => this.schedule()),
      vscode.window.onDidChangeTextEditorVisibleRanges((e) => {
        if (e.textEditor === vscode.window.activeTextEditor) this.schedule();
      }),
      vscode.workspace.onDidChangeTextDocument((e) => {
        if (e.document === vscode.window.activeTextEditor?.document) this.schedule();
      }),
    );
  }

  get isEnabled(): boolean {
    return this.enabled;
  }

  /** Turns highlighting on or off (`force` sets it); returns the new state. */
  async toggle(force?: boolean): Promise<boolean> {
    this.enabled = force ?? !this.enabled;
    await vscode.commands.executeCommand('setContext', 'lmLens.surprisalEnabled', this.enabled);
    if (this.enabled) {
      this.lastError = undefined;
      await this.refresh();
    } else {
      this.debouncer.cancel();
      this.clear();
    }
    return this.enabled;
  }

  private schedule(): void {
    if (this.enabled) this.debouncer.trigger();
  }

  private clear(): void {
    for (const editor of vscode.window.visibleTextEditors) for (const t of Object.values(this.types)) editor.setDecorations(t, []);
  }

  /** Scores the visible text and decorates it. Public so the toggle can await the first paint. */
  async refresh(): Promise<number> {
    const editor = vscode.window.activeTextEditor;
    if (!this.enabled || !editor) return 0;
    const doc = editor.document;
    const visible = editor.visibleRanges[0] ?? new vscode.Range(0, 0, Math.min(doc.lineCount - 1, 80), 0);
    // A few lines above the visible range give its first tokens some context.
    const start = doc.offsetAt(new vscode.Position(Math.max(0, visible.start.line - 5), 0));
    const end = Math.min(doc.offsetAt(doc.lineAt(Math.min(doc.lineCount - 1, visible.end.line)).range.end), start + MAX_CHARS);
    const text = doc.getText().slice(start, end);
    if (!text.trim()) {
      this.clear();
      return 0;
    }
    const version = doc.version;
    let failed = false;
    const ran = await this.ctx.score(
      { model: this.ctx.spec('completion'), text, topAlternatives: 3, truncate: true },
      {
        label: 'Highlighting surprisal',
        kind: 'background',
        quiet: true,
        onError: (err) => {
          failed = true;
          // One message per distinct failure, not one per keystroke.
          if (err.message === this.lastError) return;
          this.lastError = err.message;
          this.ctx.reportError(err, 'Surprisal highlighting');
        },
      },
    );
    const result = ran?.result;
    // Superseded, or the text changed meanwhile: the next scheduled refresh paints.
    if (!result || doc.version !== version || !this.enabled) {
      if (!result && !failed) this.schedule();
      return 0;
    }
    const texts = result.tokens.map((t) => t.text);
    const ranges = alignTokens(result.text, texts, 16, unscoredHead(result.text, texts).length);
    const byBucket: Record<RankBucket, vscode.DecorationOptions[]> = { top10: [], top100: [], top1000: [], beyond: [] };
    result.tokens.forEach((token, i) => {
      const r = ranges[i];
      if (!r) return;
      const range = new vscode.Range(doc.positionAt(start + r.start), doc.positionAt(start + r.end));
      const alternatives = token.top
        .slice(0, 3)
        .map((a) => `\`${JSON.stringify(a.text).slice(1, -1)}\` ${formatProb(a.prob)}`)
        .join(', ');
      const hover = new vscode.MarkdownString(`**rank ${token.rank}** · p ${formatProb(token.prob)} · entropy ${token.entropy.toFixed(2)} nats${alternatives ? `\n\nexpected: ${alternatives}` : ''}`);
      byBucket[rankBucket(token.rank)].push({ range, hoverMessage: hover });
    });
    for (const b of RANK_BUCKETS) editor.setDecorations(this.types[b.bucket], byBucket[b.bucket]);
    this.lastError = undefined;
    return result.tokens.length;
  }

  dispose(): void {
    this.debouncer.cancel();
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}
