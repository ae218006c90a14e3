/**
 * The real taste stack over a test database: ImageStore (temp dir) + features-v1 embeddings +
 * RatingLedger + TasteService + the profile/privacy services. For profile, compare and privacy tests.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Db } from '../../src/db/connection';
import { EmbeddingService } from '../../src/core/embeddings';
import { FsImageBlobStore } from '../../src/providers/blobstore/fs';
import { ImageStore } from '../../src/core/images';
import { createProfilesAndPrivacy, type ProfilesAndPrivacy } from '../../src/core/profiles-and-privacy';
import { RatingLedger } from '../../src/core/ratings';
import { TasteService } from '../../src/core/taste-service';
import { silentLogger } from '../../src/log';
import { createOffThreadChartRenderer } from '../../src/charts/off-thread';
import { FeaturesEmbedder } from '../../src/providers/embedder/features';

export interface TasteWorld extends ProfilesAndPrivacy {
  db: Db;
  dir: string;
  store: ImageStore;
  embeddings: EmbeddingService;
  ledger: RatingLedger;
  taste: TasteService;
  close(): void;
}

export function createTasteWorld(db: Db): TasteWorld {
  const dir = mkdtempSync(path.join(tmpdir(), 'tl-taste-'));
  const store = new ImageStore(db, new FsImageBlobStore(dir));
  const embedder = new FeaturesEmbedder();
  const embeddings = new EmbeddingService(db, store, embedder);
  const ledger = new RatingLedger(db);
  // A large globalEvery: tests retrain the community model explicitly, when they choose to.
  const taste = new TasteService({ db, ledger, embeddings, images: store, log: silentLogger, globalEvery: 1_000_000, seed: 1 });
  // The bot's own chart path (a worker thread), so profile and compare tests exercise it.
  const charts = createOffThreadChartRenderer();
  const services = createProfilesAndPrivacy({ db, charts, taste, images: store, ledger, embeddings, embedder, log: silentLogger });
  return {
    db,
    dir,
    store,
    embeddings,
    ledger,
    taste,
    ...services,
    close: () => {
      taste.stop();
      void charts.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
