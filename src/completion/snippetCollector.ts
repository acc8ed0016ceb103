/**
 * Feeds the snippet ring from the editor, as llama.vscode gathers its chunks: the lines around an edit (a second
 * after the typing stops), around the cursor of an editor the user leaves or saves, and the middle of a scrolled
 * view. Only files on disk or untitled, in a trusted workspace, not matched by `lmLens.inline.excludeFiles`, and
 * only while `lmLens.inline.extraContextTokens` is above 0; changing those settings or the trust empties the ring.
 * `contextFor` gives an inline request its `PromptContext`.
 */
import * as vscode from 'vscode';
import type { Ctx } from '../context';
import type { PromptContext } from '../inference/protocol';
import { commentSyntax } from './commentSyntax';
import { SnippetRing } from './snippetRing';

/** Wait after the last change of a document before picking its chunk (llama.vscode's `ring_update_ms`). */
const PICK_DELAY_MS = 1000;

export class SnippetCollector implements vscode.Disposable {
  readonly ring = new SnippetRing();
  private readonly disposables: vscode.Disposable[] = [];
  /** Pending picks per document: the line last edited or shown. */
  private readonly pending = new Map<string, { document: vscode.TextDocument; line: number; timer: ReturnType<typeof setTimeout> }>();
  private lastEditor: vscode.TextEditor | undefined = vscode.window.activeTextEditor;

  constructor(private readonly ctx: Ctx) {
    this.disposables.push(
      vscode.workspace.onDidChangeTextDocument((e) => {
        const change = e.contentChanges[0];
        if (change) this.schedule(e.document, change.range.start.line);
      }),
      vscode.window.onDidChangeActiveTextEditor((editor) => {
        // The file the user leaves: where its cursor was is what they worked on.
        if (this.lastEditor) this.pickNow(this.lastEditor.document, this.lastEditor.selection.active.line);
        this.lastEditor = editor;
      }),
      vscode.window.onDidChangeTextEditorVisibleRanges((e) => {
        const range = e.visibleRanges[0];
        if (range) this.schedule(e.textEditor.document, Math.floor((range.start.line + range.end.line) / 2));
      }),
      vscode.workspace.onDidSaveTextDocument((document) => {
        const editor = vscode.window.visibleTextEditors.find((ed) => ed.document === document);
        if (editor) this.pickNow(document, editor.selection.active.line);
      }),
    );
    ctx.onDidChangeConfig(() => {
      // A file newly excluded (or a budget turned off) must not stay in the ring; trust granted starts afresh too.
      this.ring.clear();
      this.cancelPending();
    });
  }

  /** What an inline request in `document` sends besides the text around the cursor, or undefined when off. */
  contextFor(document: vscode.TextDocument): PromptContext | undefined {
    const maxTokens = this.ctx.config.inline.extraContextTokens;
    const comment = commentSyntax(document.languageId);
    if (maxTokens <= 0 || !comment || !vscode.workspace.isTrusted) return undefined;
    const path = this.pathOf(document);
    const snippets = this.ring.snippets(document.languageId, path).map((s) => ({ path: s.path, text: s.text }));
    return { path, comment, snippets, maxTokens };
  }

  private pathOf(document: vscode.TextDocument): string {
    return document.isUntitled ? document.uri.path : vscode.workspace.asRelativePath(document.uri, false);
  }

  /** Whether snippets may be taken from this document. */
  private collects(document: vscode.TextDocument): boolean {
    if (this.ctx.config.inline.extraContextTokens <= 0 || !vscode.workspace.isTrusted) return false;
    if (document.uri.scheme !== 'file' && document.uri.scheme !== 'untitled') return false;
    return !this.ctx.config.inline.excludeFiles.some((pattern) => vscode.languages.match({ pattern }, document) > 0);
  }

  private schedule(document: vscode.TextDocument, line: number): void {
    if (!this.collects(document)) return;
    const key = document.uri.toString();
    const before = this.pending.get(key);
    if (before) clearTimeout(before.timer);
    const timer = setTimeout(() => {
      this.pending.delete(key);
      if (!document.isClosed) this.pickNow(document, line);
    }, PICK_DELAY_MS);
    this.pending.set(key, { document, line, timer });
  }

  private pickNow(document: vscode.TextDocument, line: number): void {
    if (!this.collects(document)) return;
    const first = Math.max(0, line - this.ring.chunkLines);
    const last = Math.min(document.lineCount - 1, line + this.ring.chunkLines);
    const lines: string[] = [];
    for (let i = first; i <= last; i++) lines.push(document.lineAt(i).text);
    this.ring.pick(this.pathOf(document), document.languageId, lines, line - first, Date.now());
  }

  private cancelPending(): void {
    for (const p of this.pending.values()) clearTimeout(p.timer);
    this.pending.clear();
  }

  dispose(): void {
    this.cancelPending();
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}
