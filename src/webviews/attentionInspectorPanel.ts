/** The attention inspector (host side): sends the maps to the webview and saves its exports. */
import * as vscode from 'vscode';
import { attentionExport } from '../analysis/heatmap';
import { packMap } from '../analysis/packedAttention';
import type { Ctx } from '../context';
import { isAttentionPanelData, isAttentionWebviewMessage, type AttentionPanelData, type AttentionPanelPayload, type AttentionWebviewMessage } from './messages';
import { SinglePanelHost } from './panelHost';

export const ATTENTION_PANEL_VIEW_TYPE = 'lmLens.attentionInspector';

type ExportMessage = Exclude<AttentionWebviewMessage, { type: 'ready' }>;

export class AttentionInspectorPanels implements vscode.Disposable {
  private readonly host: SinglePanelHost<AttentionPanelData, AttentionWebviewMessage>;

  constructor(private readonly ctx: Ctx) {
    const kind = {
      viewType: ATTENTION_PANEL_VIEW_TYPE,
      script: 'attentionInspector',
      rootId: 'attention-panel',
      titlePrefix: 'Attention',
      name: 'Attention panel',
      isData: isAttentionPanelData,
      isMessage: isAttentionWebviewMessage,
      // Float32Arrays go to the webview as binary; nested arrays of a long map would be ~100 MB of JSON.
      encode: (data: AttentionPanelData): AttentionPanelPayload => ({ ...data, maps: data.maps.map(packMap) }),
    };
    this.host = new SinglePanelHost(ctx, kind, (message) => this.export(message));
  }

  show(data: AttentionPanelData): AttentionPanelData {
    return this.host.show(data);
  }

  private async export(message: ExportMessage): Promise<void> {
    try {
      if (message.type === 'exportPng') {
        const name = message.name.replace(/[^\w.-]+/g, '_');
        const uri = await this.saveTarget(name.endsWith('.png') ? name : `${name}.png`, { Images: ['png'] });
        if (!uri) return;
        const base64 = message.dataUrl.slice('data:image/png;base64,'.length);
        await vscode.workspace.fs.writeFile(uri, Buffer.from(base64, 'base64'));
        this.saved(uri, 'attention heatmap');
      } else {
        const data = this.host.data;
        const map = data?.maps[message.mapIndex];
        if (!map || !data) return;
        const uri = await this.saveTarget(`attention-${map.kind}.json`, { JSON: ['json'] });
        if (!uri) return;
        await vscode.workspace.fs.writeFile(uri, Buffer.from(attentionExport(map, { model: data.model, title: data.title }), 'utf8'));
        this.saved(uri, 'attention map');
      }
    } catch (err) {
      this.ctx.reportError(err, 'Export');
    }
  }

  private saved(uri: vscode.Uri, what: string): void {
    this.ctx.log.info(`Saved ${what} to ${uri.fsPath}`);
    void vscode.window.showInformationMessage(`Local LM Lens: saved ${vscode.workspace.asRelativePath(uri)}`);
  }

  private saveTarget(name: string, filters: Record<string, string[]>): Thenable<vscode.Uri | undefined> {
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri ?? this.ctx.extension.globalStorageUri;
    return vscode.window.showSaveDialog({ defaultUri: vscode.Uri.joinPath(folder, name), filters });
  }

  dispose(): void {
    this.host.dispose();
  }
}
