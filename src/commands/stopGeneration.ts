/** Stop the running generation (continue, summarize, translate, generate, branch or inline). */
import * as vscode from 'vscode';
import type { Ctx } from '../context';

export function stopGeneration(ctx: Ctx): boolean {
  const stopped = ctx.gate.stop();
  if (stopped) ctx.log.info('Generation stopped by the user.');
  else vscode.window.setStatusBarMessage('Local LM Lens: nothing is running', 2000);
  return stopped;
}
