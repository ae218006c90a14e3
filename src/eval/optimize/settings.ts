/** How an eval:optimize run is set up from its command line (shared by eval:optimize and eval:report). */
import { loadConfig } from '../../config';
import { LLM_ROWS, type OptimizeConfig } from './experiment';
import { BEST_OF_N } from './best-of-n';

/** The LLM pair for the feedback ablation rows, or null when no OPENAI_API_KEY is configured. */
export async function llmFromEnv(): Promise<OptimizeConfig['llm']> {
  const config = loadConfig();
  if (!config.OPENAI_API_KEY) return null;
  const { createOpenAILlms } = await import('../../providers/llm/openai');
  const llms = createOpenAILlms({
    apiKey: config.OPENAI_API_KEY,
    baseURL: config.OPENAI_BASE_URL,
    model: config.LLM_MODEL,
    feedbackModel: config.LLM_FEEDBACK_MODEL,
    timeoutMs: config.LLM_TIMEOUT_MS,
  });
  return { optimizer: llms.optimizer, feedback: llms.feedback };
}

export interface OptimizeRequest {
  seeds: number[];
  quick: boolean;
  /** Virtual people (and general-table runs) per seed; 0 = the default of the mode (10 quick, 20 full). */
  people?: number;
  iterations?: number;
  candidates?: number;
  llm: OptimizeConfig['llm'];
  /** The synthetic population (default v2) and the offline embedder (default the built-in features). */
  population?: OptimizeConfig['population'];
  embedder?: OptimizeConfig['embedder'];
  onProgress?: (msg: string) => void;
}

/** The experiment's configuration: quick or full sizes, every seed once, best-of-N and the offline baselines always. */
export function optimizeConfig(req: OptimizeRequest): OptimizeConfig {
  const people = req.people || (req.quick ? 10 : 20);
  return {
    seeds: req.seeds,
    people,
    community: req.quick ? 30 : 60,
    poolSize: req.quick ? 300 : 600,
    trainRatings: 100,
    generalRuns: people,
    iterations: req.iterations ?? 6,
    candidates: req.candidates ?? 4,
    size: 128,
    // genetic:ucb ranks on the posterior mean + 1 sd (ranking.ts), paired against genetic (the mean).
    rows: [BEST_OF_N, 'random', 'genetic', 'genetic:ucb', ...(req.llm ? LLM_ROWS.map((r) => `llm:${r}`) : [])],
    llm: req.llm,
    population: req.population,
    embedder: req.embedder,
    onProgress: req.onProgress,
  };
}
