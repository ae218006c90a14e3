/** Flags eval:piaa and eval:optimize share: which synthetic population and which offline embedder, checked before any work starts. */
import { UsageError } from './cli';
import { EVAL_EMBEDDERS, type EvalEmbedderName } from './embedding';
import { POPULATION_VERSIONS, type PopulationVersion } from './synthetic';

/** --population v1|v2 (v2, taste that is personal, is the default). */
export function populationFlag(value: unknown): PopulationVersion {
  const v = String(value);
  if (!(POPULATION_VERSIONS as readonly string[]).includes(v))
    throw new UsageError(`--population must be "v2" (default: taste that is personal) or "v1" (the earlier, shared taste), got "${v}"`);
  return v as PopulationVersion;
}

/** --embedder features|mobilenet|mobilenet+features (what the scorers see; the built-in features by default). */
export function embedderFlag(value: unknown): EvalEmbedderName {
  const v = String(value);
  if (!(EVAL_EMBEDDERS as readonly string[]).includes(v))
    throw new UsageError(`--embedder must be one of ${EVAL_EMBEDDERS.join(', ')}, got "${v}"`);
  return v as EvalEmbedderName;
}
