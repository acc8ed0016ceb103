/**
 * The token probabilities panel (host side): shows a trace GLTR-style and runs branches, i.e.
 * generations that resume from an alternative the user clicked (with a logit lens when the trace
 * they branch from has one).
 */
import type * as vscode from 'vscode';
import { branchPoint, upsertSequence, withoutForced } from '../analysis/branching';
import { trimLens } from '../analysis/logitLens';
import type { Ctx } from '../context';
import { decodingFor, taskDecodingFor } from '../settings';
import { isTokenPanelData, isTokenWebviewMessage, type TokenHostMessage, type TokenPanelData, type TokenSequence, type TokenWebviewMessage } from './messages';
import { SinglePanelHost } from './panelHost';

export const TOKEN_PANEL_VIEW_TYPE = 'lmLens.tokenProbabilities';

type BranchMessage = Extract<TokenWebviewMessage, { type: 'branch' }>;

export class TokenProbabilitiesPanels implements vscode.Disposable {
  private readonly host: SinglePanelHost<TokenPanelData, TokenWebviewMessage, TokenHostMessage>;

  constructor(private readonly ctx: Ctx) {
    const kind = { viewType: TOKEN_PANEL_VIEW_TYPE, script: 'tokenProbabilities', rootId: 'token-panel', titlePrefix: 'Tokens', name: 'Token panel', isData: isTokenPanelData, isMessage: isTokenWebviewMessage };
    this.host = new SinglePanelHost(ctx, kind, (message) => {
      if (message.type === 'showLog') ctx.log.show(true);
      else return this.branch(message);
    });
  }

  show(data: TokenPanelData): TokenPanelData {
    return this.host.show(data);
  }

  private updateSequence(sequence: TokenSequence): void {
    const data = this.host.data;
    if (!data) return;
    this.host.update({ ...data, sequences: upsertSequence(data.sequences, sequence) });
    this.host.post({ type: 'sequence', sequence });
  }

  private async branch(m: BranchMessage): Promise<void> {
    const data = this.host.data;
    if (!data || data.branchUnavailable) return;
    const parent = data.sequences.find((s) => s.id === m.sequenceId);
    const alternative = parent?.tokens[m.tokenIndex]?.top.find((a) => a.id === m.alternativeId);
    if (!parent || !alternative) {
      this.ctx.log.warn('Token panel: a branch request named a token or alternative that does not exist.');
      return;
    }
    const point = branchPoint(parent, parent.tokens, m.tokenIndex, alternative.id);
    const running: TokenSequence = {
      id: Math.max(...data.sequences.map((s) => s.id)) + 1,
      parent: { sequenceId: parent.id, tokenIndex: m.tokenIndex, alternative },
      tokens: [],
      prompt: point.prompt,
      forcedIds: point.forcedIds,
      status: 'running',
    };
    this.updateSequence(running);
    // Forced tokens count against the engine's limit; the continuation is about as long as the one it replaces.
    const continuation = Math.max(8, Math.min(this.ctx.config.decoding.maxNewTokens, parent.tokens.length - m.tokenIndex - 1 || 32));
    // A trace with a logit lens branches on the model loaded for inspection, so the branch has one too.
    const lens = data.lensUnavailable === undefined && parent.tokens.some((t) => t.lens?.length);
    const overrides = { strategy: 'greedy', maxNewTokens: point.forcedIds.length + continuation, ...(lens ? { logitLens: true } : {}) } as const;
    let error = 'Superseded by another generation.';
    const ran = await this.ctx.run(
      {
        model: this.ctx.spec('completion', { source: data.branchModel, attentions: lens }),
        prompt: point.prompt,
        forcedPrefixIds: point.forcedIds,
        truncatePrompt: true,
        task: data.task,
        options: data.task.kind === 'generate' ? decodingFor(this.ctx.config, overrides) : taskDecodingFor(this.ctx.config, overrides),
      },
      {
        label: 'Branching',
        onError: (e) => {
          error = e.message;
          this.ctx.log.error(`Branch failed: ${e.message}`);
        },
      },
    );
    this.updateSequence(ran ? { ...running, tokens: trimLens(withoutForced(ran.result.tokens, point.forcedIds)), status: 'done' } : { ...running, status: 'failed', error });
  }

  dispose(): void {
    this.host.dispose();
  }
}
