/** The webview side of the VS Code API, typed for one panel's messages and state. */
export interface VsCodeApi<Out, S> {
  postMessage(message: Out): void;
  getState(): S | undefined;
  setState(state: S): void;
}

declare function acquireVsCodeApi<Out, S>(): VsCodeApi<Out, S>;

export function vscodeApi<Out, S>(): VsCodeApi<Out, S> {
  return acquireVsCodeApi<Out, S>();
}

/** `document.createElement` with attributes, dataset entries and children in one call. */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number | boolean | undefined> = {},
  ...children: (Node | string | null | undefined)[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (k === 'class') node.className = String(v);
    else if (k === 'text') node.textContent = String(v);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}
