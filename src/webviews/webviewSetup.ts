/** What both panel hosts do the same way: webview options, the CSP'd HTML shell, resource roots. */
import * as vscode from 'vscode';
import { makeNonce, panelHtml } from './html';

export function webviewOptions(extensionUri: vscode.Uri): vscode.WebviewPanelOptions & vscode.WebviewOptions {
  return {
    enableScripts: true,
    // The scripts keep their state with getState/setState, so hidden panels need not stay alive.
    retainContextWhenHidden: false,
    enableFindWidget: true,
    localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist', 'media'), vscode.Uri.joinPath(extensionUri, 'media')],
  };
}

export function setWebviewHtml(panel: vscode.WebviewPanel, extensionUri: vscode.Uri, script: string, rootId: string): void {
  const webview = panel.webview;
  webview.options = webviewOptions(extensionUri);
  webview.html = panelHtml({
    cspSource: webview.cspSource,
    nonce: makeNonce(),
    scriptUri: webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', 'media', `${script}.js`)).toString(),
    styleUri: webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'media', 'panels.css')).toString(),
    title: panel.title,
    rootId,
  });
}
