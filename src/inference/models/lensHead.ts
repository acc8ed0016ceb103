import * as ort from 'onnxruntime-node';
import { floatData } from './tensors';
import type { LensProjector, StepResiduals } from './modelAdapter';

/**
 * The model's output head (final norm and unembedding, cut out of its decoder graph) as a session
 * of its own: block outputs fed as a sequence `[1, N, hidden]` come back as `N` rows of logits, the
 * norm and the unembedding being per position.
 */
export class LensHead implements LensProjector {
  constructor(
    private readonly session: ort.InferenceSession,
    private readonly hiddenInput: string,
    private readonly shapeInputs: readonly string[],
    readonly perPosition: boolean,
  ) {}

  async project(vectors: Float32Array | Uint16Array, type: StepResiduals['type'], count: number, hidden: number): Promise<{ logits: Float32Array; vocab: number }> {
    const feeds: Record<string, ort.Tensor> = { [this.hiddenInput]: new ort.Tensor(type, vectors, [1, count, hidden]) };
    for (const name of this.shapeInputs) {
      // Inputs the head reads only for their shape (a reshape to the input's length).
      const values = Array.from({ length: count }, (_, i) => BigInt(name === 'position_ids' ? i : name.includes('mask') ? 1 : 0));
      feeds[name] = new ort.Tensor('int64', BigInt64Array.from(values), [1, count]);
    }
    const result = await this.session.run(feeds);
    const logits = floatData(Object.values(result)[0]);
    return { logits, vocab: logits.length / count };
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}
