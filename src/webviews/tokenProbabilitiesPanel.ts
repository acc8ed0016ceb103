/**
 * The token probabilities panel (host side): shows a trace GLTR-style and runs branches, i.e.
 * generations that resume from an alternative the user clicked. One panel, reused; restored after
 * a reload from the state its script saved.
 */
import * as vscode from 'vscode';
import type { Ctx } from '../context';
import { decoding, taskDecoding } from '../commands/common';
import { branchPoint, withoutForced } from './branching';
import { isTokenPanelData, isTokenWebviewMessage, type TokenHostMessage, type TokenPanelData, type TokenSequence, type TokenWebviewMessage } from './messages';
import { setWebviewHtml, webviewOptions } from './webviewSetup';

export const TOKEN_PANEL_VIEW_TYPE = 'lmLens.tokenProbabilities';

class TokenProbabilitiesPanel {
  private data: TokenPanelData | undefined;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly ctx: Ctx,
    readonly panel: vscode.WebviewPanel,
    data: TokenPanelData | undefined,
    onDispose: () => void,
  ) {
    this.data = data;
    setWebviewHtml(panel, ctx.extension.extensionUri, 'tokenProbabilities', 'token-panel');
    panel.iconPath = vscode.Uri.joinPath(ctx.extension.extensionUri, 'media', 'icon.png');
    this.disposables.push(
      panel.webview.onDidReceiveMessage((m: unknown) => this.onMessage(m)),
      panel.onDidDispose(() => {
        for (const d of this.disposables.splice(0)) d.dispose();
        onDispose();
      }),
    );
  }

  show(data: TokenPanelData): void {
    this.data = data;
    this.panel.title = `Tokens: ${data.title}`;
    this.post({ type: 'show', data });
    this.panel.reveal(undefined, true);
  }

  private post(message: TokenHostMessage): void {
    void this.panel.webview.postMessage(message);
  }

  private onMessage(message: unknown): void {
    if (!isTokenWebviewMessage(message)) {
      this.ctx.log.warn('Token panel: ignored a malformed message from the webview.');
      return;
    }
    switch (message.type) {
      case 'ready':
        if (this.data) this.post({ type: 'show', data: this.data });
        break;
      case 'showLog':
        this.ctx.log.show(true);
        break;
      case 'branch':
        void this.branch(message);
        break;
    }
  }

  private updateSequence(sequence: TokenSequence): void {
    if (!this.data) return;
    const sequences = this.data.sequences.some((s) => s.id === sequence.id)
      ? this.data.sequences.map((s) => (s.id === sequence.id ? sequence : s))
      : [...this.data.sequences, sequence];
    this.data = { ...this.data, sequences };
    this.post({ type: 'sequence', sequence });
  }

  private async branch(m: Extract<TokenWebviewMessage, { type: 'branch' }>): Promise<void> {
    const data = this.data;
    if (!data || data.branchUnavailable) return;
    const parent = data.sequences.find((s) => s.id === m.sequenceId);
    const alternative = parent?.tokens[m.tokenIndex]?.top.find((a) => a.id === m.alternativeId);
    if (!parent || !alternative) {
      this.ctx.log.warn('Token panel: a branch request named a token or alternative that does not exist.');
      return;
    }
    const point = branchPoint(parent, parent.tokens, m.tokenIndex, alternative.id);
    const id = Math.max(...data.sequences.map((s) => s.id)) + 1;
    let sequence: TokenSequence = {
      id,
      parent: { sequenceId: parent.id, tokenIndex: m.tokenIndex, alternative },
      tokens: [],
      prompt: point.prompt,
      forcedIds: point.forcedIds,
      contextCount: 0,
      status: 'running',
    };
    this.updateSequence(sequence);
    const spec = this.ctx.spec('completion', { source: data.branchModel });
    // Forced tokens count against the engine's limit; the continuation is about as long as the one it replaces.
    const continuation = Math.max(8, Math.min(this.ctx.config.decoding.maxNewTokens, parent.tokens.length - m.tokenIndex - 1 || 32));
    try {
      const result = await this.ctx.exclusive('command', 'Branching', (lease) =>
        this.ctx.generate(
          {
            model: spec,
            prompt: point.prompt,
            forcedPrefixIds: point.forcedIds,
            truncatePrompt: true,
            task: data.task,
            options:
              data.task.kind === 'generate'
                ? decoding(this.ctx, { strategy: 'greedy', maxNewTokens: point.forcedIds.length + continuation })
                : taskDecoding(this.ctx, { strategy: 'greedy', maxNewTokens: point.forcedIds.length + continuation }),
          },
          { signal: lease.signal },
        ),
      );
      if (!result) throw new Error('Superseded by another generation.');
      sequence = { ...sequence, tokens: withoutForced(result.tokens, point.forcedIds), status: 'done' };
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.ctx.log.error(`Branch failed: ${message}`);
      sequence = { ...sequence, status: 'failed', error: message };
    }
    this.updateSequence(sequence);
  }
}

/** Owns the (single) token panel and restores it after a reload. */
export class TokenProbabilitiesPanels implements vscode.Disposable {
  private current: TokenProbabilitiesPanel | undefined;
  private readonly registration: vscode.Disposable;

  constructor(private readonly ctx: Ctx) {
    this.registration = vscode.window.registerWebviewPanelSerializer(TOKEN_PANEL_VIEW_TYPE, {
      deserializeWebviewPanel: async (panel, state: unknown) => {
        const data = (state as { data?: unknown } | undefined)?.data;
        this.current?.panel.dispose();
        this.current = this.adopt(panel, isTokenPanelData(data) ? data : undefined);
      },
    });
  }

  show(data: TokenPanelData): void {
    if (!this.current) {
      const panel = vscode.window.createWebviewPanel(TOKEN_PANEL_VIEW_TYPE, `Tokens: ${data.title}`, { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true }, webviewOptions(this.ctx.extension.extensionUri));
      this.current = this.adopt(panel, data);
    }
    this.current.show(data);
  }

  private adopt(panel: vscode.WebviewPanel, data: TokenPanelData | undefined): TokenProbabilitiesPanel {
    const host: TokenProbabilitiesPanel = new TokenProbabilitiesPanel(this.ctx, panel, data, () => {
      if (this.current === host) this.current = undefined;
    });
    return host;
  }

  dispose(): void {
    this.registration.dispose();
    this.current?.panel.dispose();
  }
}
