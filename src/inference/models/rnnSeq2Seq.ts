import * as ort from 'onnxruntime-node';
import type { DecoderSession, StepAttention, StepResult } from './modelAdapter';
import { filledInt64, gatherRows, int64Tensor } from './tensors';

/**
 * The source documents' classic Seq2Seq: a bidirectional GRU encoder and a GRU decoder with additive
 * (Bahdanau) attention, exported as an encoder graph and a one-step decoder graph that also returns
 * the step's attention weights (the alignment).
 */
export interface RnnGraphs {
  readonly encoder: ort.InferenceSession;
  readonly decoderStep: ort.InferenceSession;
}

/** The alignment is always returned by the step graph: it is reported as one layer with one head. */
export const ALIGNMENT_OUTPUT = { name: 'attention', kind: 'alignment' as const, layer: 0 };

export class RnnSeq2SeqSession implements DecoderSession {
  readonly encoderAttentions: readonly StepAttention[] = [];
  private encoderOutputs!: ort.Tensor;
  private mask!: ort.Tensor;
  private state!: ort.Tensor;
  private rows = 1;

  private constructor(
    private readonly graphs: RnnGraphs,
    readonly startTokens: readonly number[],
  ) {}

  static async start(graphs: RnnGraphs, inputIds: readonly number[], decoderStart: readonly number[]): Promise<RnnSeq2SeqSession> {
    const s = new RnnSeq2SeqSession(graphs, decoderStart);
    s.mask = filledInt64([1, inputIds.length], 1);
    const feeds: Record<string, ort.Tensor> = { input_ids: int64Tensor([inputIds]) };
    if (graphs.encoder.inputNames.includes('attention_mask')) feeds.attention_mask = s.mask;
    const out = await graphs.encoder.run(feeds);
    s.encoderOutputs = out.encoder_outputs;
    s.state = out.decoder_initial_state;
    return s;
  }

  /** The step graph takes one token per row; several tokens (teacher forcing, scoring) run as several steps. */
  async step(tokens: readonly (readonly number[])[], allPositions = false): Promise<StepResult> {
    const rows = tokens.length;
    const steps = tokens[0].length;
    let vocab = 0;
    let all: Float32Array | undefined;
    let last!: Float32Array;
    const alignRows: Float32Array[] = [];
    for (let t = 0; t < steps; t++) {
      const feeds: Record<string, ort.Tensor> = {
        input_ids: int64Tensor(tokens.map((row) => [row[t]])),
        state: this.state,
        encoder_outputs: this.encoderOutputs,
      };
      if (this.graphs.decoderStep.inputNames.includes('attention_mask')) feeds.attention_mask = this.mask;
      const out = await this.graphs.decoderStep.run(feeds);
      this.state = out.state_out;
      last = out.logits.data as Float32Array;
      vocab = out.logits.dims[1];
      if (allPositions) {
        all ??= new Float32Array(steps * vocab);
        all.set(last.subarray(0, vocab), t * vocab);
      }
      alignRows.push(out.attention.data as Float32Array);
    }
    this.rows = rows;
    const source = this.encoderOutputs.dims[1];
    // Stack the per-step alignments as [rows, 1 head, steps, source], like a tapped attention output.
    const data = new Float32Array(rows * steps * source);
    for (let r = 0; r < rows; r++) for (let t = 0; t < steps; t++) data.set(alignRows[t].subarray(r * source, (r + 1) * source), (r * steps + t) * source);
    return { logits: Float32Array.from(last), allLogits: all, vocab, attentions: [{ output: ALIGNMENT_OUTPUT, data, dims: [rows, 1, steps, source] }] };
  }

  reorder(rows: readonly number[]): void {
    if (rows.length === this.rows && rows.every((r, i) => r === i)) return;
    this.state = gatherRows(this.state, rows);
    // Every row encodes the same source: its rows change only with the row count.
    if (rows.length !== this.rows) {
      const anyRow = rows.map(() => 0);
      this.encoderOutputs = gatherRows(this.encoderOutputs, anyRow);
      this.mask = gatherRows(this.mask, anyRow);
    }
    this.rows = rows.length;
  }
}
