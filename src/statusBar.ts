/**
 * The status bar item: model and device when idle, a spinner while loading or generating, tokens/s after; an error
 * state after a failed load. The tooltip names the model of each role and why the last inline request showed nothing.
 */
import * as vscode from 'vscode';

export class ModelStatus implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;
  private model = '';
  private device = '';
  private dtype = '';
  /** The last load failed: shown until a model loads. */
  private failure: { label: string; reason: string } | undefined;
  private rate: number | undefined;
  private busy: { kind: 'loading' | 'generating'; label: string; started: number; tokens: number } | undefined;
  private lastPaint = 0;
  /** The configured model of each role, for the tooltip. */
  private roles: readonly (readonly [string, string])[] = [];
  /** Why the last inline request showed nothing; cleared when one shows a suggestion. */
  private inlineHidden: string | undefined;

  constructor() {
    this.item = vscode.window.createStatusBarItem('lmLens.status', vscode.StatusBarAlignment.Right, 100);
    this.item.name = 'Local LM Lens';
    this.paint();
    this.item.show();
  }

  /** Whether the item shows `model` as loaded (not failed). */
  shows(model: string): boolean {
    return !this.failure && this.model === model;
  }

  setModel(model: string, device: string, dtype = ''): void {
    this.model = model;
    this.device = device;
    this.dtype = dtype;
    this.failure = undefined;
    this.paint();
  }

  /** A model failed to load: an error state instead of the last model that loaded. */
  failed(label: string, reason: string): void {
    this.failure = { label, reason };
    this.paint();
  }

  /** The model each role uses (`[['Completion', 'gpt2-code'], …]`). */
  setRoles(roles: readonly (readonly [string, string])[]): void {
    this.roles = roles;
    this.paint();
  }

  /** Why the last inline request showed nothing (undefined: it showed a suggestion). */
  inlineOutcome(hidden: string | undefined): void {
    if (hidden === this.inlineHidden) return;
    this.inlineHidden = hidden;
    this.paint();
  }

  loading(label: string): void {
    this.busy = { kind: 'loading', label, started: Date.now(), tokens: 0 };
    this.paint();
  }

  generating(label: string): void {
    this.busy = { kind: 'generating', label, started: Date.now(), tokens: 0 };
    this.paint();
  }

  token(): void {
    if (this.busy?.kind !== 'generating') return;
    this.busy.tokens++;
    // Repainting on every token would cost more than the tokens themselves.
    if (Date.now() - this.lastPaint > 250) this.paint();
  }

  idle(tokensPerSecond?: number): void {
    this.busy = undefined;
    if (tokensPerSecond !== undefined && Number.isFinite(tokensPerSecond) && tokensPerSecond > 0) this.rate = tokensPerSecond;
    this.paint();
  }

  private paint(): void {
    this.lastPaint = Date.now();
    const model = this.model || 'no model loaded';
    let tooltip: string;
    const device = `${this.dtype ? ` · ${this.dtype}` : ''}${this.device ? ` · ${this.device}` : ''}`;
    if (this.busy?.kind === 'loading') {
      this.item.text = `$(loading~spin) Loading ${this.busy.label}…`;
      this.item.command = 'lmLens.showLog';
      tooltip = `Local LM Lens: loading ${this.busy.label}`;
    } else if (this.busy) {
      const seconds = (Date.now() - this.busy.started) / 1000;
      const rate = seconds > 0 && this.busy.tokens > 0 ? ` · ${(this.busy.tokens / seconds).toFixed(0)} tok/s` : '';
      this.item.text = `$(loading~spin) ${model}${device}${rate}`;
      this.item.command = 'lmLens.stopGeneration';
      tooltip = `Local LM Lens: ${this.busy.label}. Click to stop.`;
    } else if (this.failure) {
      this.item.text = `$(error) ${this.failure.label}: failed to load`;
      this.item.command = 'lmLens.pickModel';
      tooltip = `Local LM Lens: ${this.failure.label} failed to load. ${this.failure.reason}\nClick to pick another model; details in the log.`;
    } else {
      const rate = this.rate !== undefined ? ` · ${this.rate.toFixed(0)} tok/s` : '';
      this.item.text = `$(hubot) ${model}${device}${rate}`;
      this.item.command = 'lmLens.pickModel';
      tooltip = 'Local LM Lens: click to pick a model';
    }
    this.item.tooltip = tooltip + this.details();
    this.item.backgroundColor = this.failure && !this.busy ? new vscode.ThemeColor('statusBarItem.errorBackground') : undefined;
    this.item.accessibilityInformation = { label: this.item.text.replace(/\$\([^)]*\)\s*/g, '') + (this.inlineHidden ? `. Last inline suggestion not shown: ${this.inlineHidden}` : '') };
  }

  /** The tooltip's lines below the state: the model of each role, and why the last inline request showed nothing. */
  private details(): string {
    const roles = this.roles.map(([role, model]) => `\n${role}: ${model}`).join('');
    return `${roles ? `\n${roles}` : ''}${this.inlineHidden ? `\n\nLast inline suggestion not shown: ${this.inlineHidden}` : ''}`;
  }

  dispose(): void {
    this.item.dispose();
  }
}
