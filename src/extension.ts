/**
 * Entry point. Activation only wires things up: the inference worker starts with the first
 * command or inline request, and stops on deactivate.
 */
import * as vscode from 'vscode';
import { openSettings } from './config';
import { Ctx } from './context';
import { continueAtCursor, type ContinueArgs } from './commands/continueAtCursor';
import { generateFromPrompt, type GenerateArgs } from './commands/generateFromPrompt';
import { inspectTokenProbabilities, type InspectArgs } from './commands/inspectTokenProbabilities';
import { pickModel, type PickModelArgs } from './commands/pickModel';
import { showAttention, type AttentionArgs } from './commands/showAttention';
import { stopGeneration } from './commands/stopGeneration';
import { summarizeSelection, type SummarizeArgs } from './commands/summarizeSelection';
import { toggleInlineCompletions } from './commands/toggleInlineCompletions';
import { toggleSurprisal } from './commands/toggleSurprisal';
import { translateSelection, type TranslateArgs } from './commands/translateSelection';
import { InlineCompletionProvider } from './completion/inlineProvider';
import { SnippetCollector } from './completion/snippetCollector';
import { SurprisalHighlighter } from './editor/surprisalHighlighter';
import { AttentionInspectorPanels } from './webviews/attentionInspectorPanel';
import { TokenProbabilitiesPanels } from './webviews/tokenProbabilitiesPanel';

let active: Ctx | undefined;

export function activate(context: vscode.ExtensionContext): void {
  const ctx = new Ctx(context);
  active = ctx;
  // Serving engines' API keys live in the editor's secret storage, never in settings.
  void ctx.refreshApiKeys();
  context.subscriptions.push(context.secrets.onDidChange(() => void ctx.refreshApiKeys()));
  const tokenPanels = new TokenProbabilitiesPanels(ctx);
  const attentionPanels = new AttentionInspectorPanels(ctx);
  const surprisal = new SurprisalHighlighter(ctx);

  // Every command takes one optional argument object, so tests and keybindings can skip the prompts.
  const commands: Record<string, (args?: never) => unknown> = {
    'lmLens.continueAtCursor': (args?: ContinueArgs) => continueAtCursor(ctx, args),
    'lmLens.summarizeSelection': (args?: SummarizeArgs) => summarizeSelection(ctx, args),
    'lmLens.translateSelection': (args?: TranslateArgs) => translateSelection(ctx, args),
    'lmLens.generateFromPrompt': (args?: GenerateArgs) => generateFromPrompt(ctx, args),
    'lmLens.pickModel': (args?: PickModelArgs) => pickModel(ctx, args),
    'lmLens.stopGeneration': () => stopGeneration(ctx),
    'lmLens.inspectTokenProbabilities': (args?: InspectArgs) => inspectTokenProbabilities(ctx, tokenPanels, args),
    'lmLens.showAttention': (args?: AttentionArgs) => showAttention(ctx, attentionPanels, args),
    'lmLens.toggleSurprisalHighlighting': (args?: { enabled?: boolean }) => toggleSurprisal(surprisal, args),
    'lmLens.toggleInlineCompletions': (args?: { enabled?: boolean }) => toggleInlineCompletions(args),
    'lmLens.showLog': () => ctx.log.show(true),
    'lmLens.openSettings': () => openSettings(),
  };
  for (const [id, run] of Object.entries(commands)) {
    context.subscriptions.push(vscode.commands.registerCommand(id, (args?: unknown) => run(isArgs(args) ? (args as never) : undefined)));
  }

  const snippets = new SnippetCollector(ctx);
  context.subscriptions.push(
    tokenPanels,
    attentionPanels,
    surprisal,
    snippets,
    vscode.languages.registerInlineCompletionItemProvider([{ pattern: '**' }, { scheme: 'untitled' }], new InlineCompletionProvider(ctx, snippets)),
    { dispose: () => void ctx.dispose() },
  );
  void vscode.commands.executeCommand('setContext', 'lmLens.generating', false);
  ctx.log.info(`Activated (workspace ${vscode.workspace.isTrusted ? 'trusted' : 'untrusted: model paths from workspace settings are ignored'}).`);
}

/** Context-menu invocations pass the resource URI as the first argument; only plain objects are options. */
function isArgs(x: unknown): boolean {
  return typeof x === 'object' && x !== null && !Array.isArray(x) && !(x instanceof vscode.Uri) && Object.getPrototypeOf(x) === Object.prototype;
}

export async function deactivate(): Promise<void> {
  const ctx = active;
  active = undefined;
  // Terminates the worker thread; VS Code waits for this promise.
  await ctx?.dispose();
}
