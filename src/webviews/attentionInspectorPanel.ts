/**
 * The attention inspector (host side): sends the maps to the webview and saves its exports.
 * One panel, reused; restored after a reload from the state its script saved.
 */
import * as vscode from 'vscode';
import type { Ctx } from '../context';
import { attentionExport } from './heatmap';
import { isAttentionPanelData, isAttentionWebviewMessage, type AttentionHostMessage, type AttentionPanelData } from './messages';
import { setWebviewHtml, webviewOptions } from './webviewSetup';

export const ATTENTION_PANEL_VIEW_TYPE = 'lmLens.attentionInspector';

class AttentionInspectorPanel {
  private data: AttentionPanelData | undefined;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly ctx: Ctx,
    readonly panel: vscode.WebviewPanel,
    data: AttentionPanelData | undefined,
    onDispose: () => void,
  ) {
    this.data = data;
    setWebviewHtml(panel, ctx.extension.extensionUri, 'attentionInspector', 'attention-panel');
    panel.iconPath = vscode.Uri.joinPath(ctx.extension.extensionUri, 'media', 'icon.png');
    this.disposables.push(
      panel.webview.onDidReceiveMessage((m: unknown) => void this.onMessage(m)),
      panel.onDidDispose(() => {
        for (const d of this.disposables.splice(0)) d.dispose();
        onDispose();
      }),
    );
  }

  show(data: AttentionPanelData): void {
    this.data = data;
    this.panel.title = `Attention: ${data.title}`;
    this.post({ type: 'show', data });
    this.panel.reveal(undefined, true);
  }

  private post(message: AttentionHostMessage): void {
    void this.panel.webview.postMessage(message);
  }

  private async onMessage(message: unknown): Promise<void> {
    if (!isAttentionWebviewMessage(message)) {
      this.ctx.log.warn('Attention panel: ignored a malformed message from the webview.');
      return;
    }
    if (message.type === 'ready') {
      if (this.data) this.post({ type: 'show', data: this.data });
      return;
    }
    try {
      if (message.type === 'exportPng') {
        const name = message.name.replace(/[^\w.-]+/g, '_');
        const uri = await this.saveTarget(name.endsWith('.png') ? name : `${name}.png`, { Images: ['png'] });
        if (!uri) return;
        const base64 = message.dataUrl.slice('data:image/png;base64,'.length);
        await vscode.workspace.fs.writeFile(uri, Buffer.from(base64, 'base64'));
        this.ctx.log.info(`Saved attention heatmap to ${uri.fsPath}`);
        void vscode.window.showInformationMessage(`Local LM Lens: saved ${vscode.workspace.asRelativePath(uri)}`);
      } else {
        const map = this.data?.maps[message.mapIndex];
        if (!map || !this.data) return;
        const uri = await this.saveTarget(`attention-${map.kind}.json`, { JSON: ['json'] });
        if (!uri) return;
        await vscode.workspace.fs.writeFile(uri, Buffer.from(attentionExport(map, { model: this.data.model, title: this.data.title }), 'utf8'));
        this.ctx.log.info(`Saved attention map to ${uri.fsPath}`);
        void vscode.window.showInformationMessage(`Local LM Lens: saved ${vscode.workspace.asRelativePath(uri)}`);
      }
    } catch (err) {
      this.ctx.reportError(err, 'Export');
    }
  }

  private saveTarget(name: string, filters: Record<string, string[]>): Thenable<vscode.Uri | undefined> {
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri ?? this.ctx.extension.globalStorageUri;
    return vscode.window.showSaveDialog({ defaultUri: vscode.Uri.joinPath(folder, name), filters });
  }
}

export class AttentionInspectorPanels implements vscode.Disposable {
  private current: AttentionInspectorPanel | undefined;
  private readonly registration: vscode.Disposable;

  constructor(private readonly ctx: Ctx) {
    this.registration = vscode.window.registerWebviewPanelSerializer(ATTENTION_PANEL_VIEW_TYPE, {
      deserializeWebviewPanel: async (panel, state: unknown) => {
        const data = (state as { data?: unknown } | undefined)?.data;
        this.current?.panel.dispose();
        this.current = this.adopt(panel, isAttentionPanelData(data) ? data : undefined);
      },
    });
  }

  show(data: AttentionPanelData): void {
    if (!this.current) {
      const panel = vscode.window.createWebviewPanel(ATTENTION_PANEL_VIEW_TYPE, `Attention: ${data.title}`, { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true }, webviewOptions(this.ctx.extension.extensionUri));
      this.current = this.adopt(panel, data);
    }
    this.current.show(data);
  }

  private adopt(panel: vscode.WebviewPanel, data: AttentionPanelData | undefined): AttentionInspectorPanel {
    const host: AttentionInspectorPanel = new AttentionInspectorPanel(this.ctx, panel, data, () => {
      if (this.current === host) this.current = undefined;
    });
    return host;
  }

  dispose(): void {
    this.registration.dispose();
    this.current?.panel.dispose();
  }
}
