/**
 * The scaffolding every panel shares (as in the VS Code webview samples): one panel per kind,
 * created beside the editor or adopted from a `WebviewPanelSerializer` after a reload, with the
 * CSP'd HTML shell, the data it shows (re-sent when its script says `ready`), validated messages
 * from the webview, and everything it registered disposed with it.
 */
import * as vscode from 'vscode';
import type { Ctx } from '../context';
import { makeNonce, panelHtml } from './html';

export interface PanelKind<D extends { readonly title: string }, W extends { readonly type: string }> {
  readonly viewType: string;
  /** Script in `dist/media/<script>.js`. */
  readonly script: string;
  /** The element the script renders into. */
  readonly rootId: string;
  /** Panel title prefix ("Tokens"). */
  readonly titlePrefix: string;
  /** Names the panel in the log. */
  readonly name: string;
  readonly isData: (x: unknown) => x is D;
  readonly isMessage: (x: unknown) => x is W;
  /** What a `show` message carries for `data`, when not `data` itself (e.g. packed into typed arrays). */
  readonly encode?: (data: D) => unknown;
}

type Ready = { readonly type: 'ready' };
type ShowMessage<D> = { readonly type: 'show'; readonly data: D };

interface Open<D> {
  readonly panel: vscode.WebviewPanel;
  data: D | undefined;
}

/** Hosts the single panel of one kind; `onMessage` gets every valid message but `ready`. */
export class SinglePanelHost<D extends { readonly title: string }, W extends { readonly type: string }, H extends { readonly type: string } = ShowMessage<D>> implements vscode.Disposable {
  private current: Open<D> | undefined;
  private readonly registration: vscode.Disposable;

  constructor(
    private readonly ctx: Ctx,
    private readonly kind: PanelKind<D, W>,
    private readonly onMessage: (message: Exclude<W, Ready>) => void | Promise<void>,
  ) {
    this.registration = vscode.window.registerWebviewPanelSerializer(kind.viewType, {
      deserializeWebviewPanel: async (panel, state: unknown) => {
        const data = (state as { data?: unknown } | undefined)?.data;
        this.current?.panel.dispose();
        this.adopt(panel, kind.isData(data) ? data : undefined);
      },
    });
  }

  /** What the panel shows now, if it is open. */
  get data(): D | undefined {
    return this.current?.data;
  }

  /** Shows `data`, opening the panel beside the editor when none is open; returns `data`. */
  show(data: D): D {
    const title = `${this.kind.titlePrefix}: ${data.title}`;
    const existing = this.current;
    const open = existing ?? this.adopt(vscode.window.createWebviewPanel(this.kind.viewType, title, { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true }, webviewOptions(this.ctx.extension.extensionUri)), data);
    open.data = data;
    open.panel.title = title;
    // A new panel's script asks with `ready` once it runs; sending now as well would make it render twice.
    if (existing) this.post({ type: 'show', data });
    open.panel.reveal(undefined, true);
    return data;
  }

  /** Changes what a reopened webview gets without re-sending it (the change goes by `post`). */
  update(data: D): void {
    if (this.current) this.current.data = data;
  }

  post(message: H | ShowMessage<D>): void {
    const encode = this.kind.encode;
    const sent = encode && message.type === 'show' ? { type: 'show', data: encode((message as ShowMessage<D>).data) } : message;
    void this.current?.panel.webview.postMessage(sent);
  }

  private adopt(panel: vscode.WebviewPanel, data: D | undefined): Open<D> {
    const open: Open<D> = { panel, data };
    const extensionUri = this.ctx.extension.extensionUri;
    const webview = panel.webview;
    webview.options = webviewOptions(extensionUri);
    webview.html = panelHtml({
      cspSource: webview.cspSource,
      nonce: makeNonce(),
      scriptUri: webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', 'media', `${this.kind.script}.js`)).toString(),
      styleUri: webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'media', 'panels.css')).toString(),
      title: panel.title,
      rootId: this.kind.rootId,
    });
    panel.iconPath = vscode.Uri.joinPath(extensionUri, 'media', 'icon.png');
    const subscriptions = [
      webview.onDidReceiveMessage((m: unknown) => this.receive(open, m)),
      panel.onDidDispose(() => {
        for (const d of subscriptions.splice(0)) d.dispose();
        if (this.current === open) this.current = undefined;
      }),
    ];
    this.current = open;
    return open;
  }

  private receive(open: Open<D>, message: unknown): void {
    if (!this.kind.isMessage(message)) {
      this.ctx.log.warn(`${this.kind.name}: ignored a malformed message from the webview.`);
      return;
    }
    if (message.type === 'ready') {
      if (open.data) this.post({ type: 'show', data: open.data });
      return;
    }
    void this.onMessage(message as Exclude<W, Ready>);
  }

  dispose(): void {
    this.registration.dispose();
    this.current?.panel.dispose();
  }
}

function webviewOptions(extensionUri: vscode.Uri): vscode.WebviewPanelOptions & vscode.WebviewOptions {
  return {
    enableScripts: true,
    // The scripts keep their state with getState/setState, so hidden panels need not stay alive.
    retainContextWhenHidden: false,
    enableFindWidget: true,
    localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist', 'media'), vscode.Uri.joinPath(extensionUri, 'media')],
  };
}
