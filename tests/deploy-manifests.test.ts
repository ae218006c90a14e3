/**
 * Deployment files under deploy/ (and the root .dockerignore), checked offline without docker or kubectl:
 * every YAML parses; Kubernetes objects are validated against the bundled Kubernetes JSON schemas of
 * `kubernetes-models` and then checked structurally (security context, probes, resources, pinned image,
 * roles, selectors); the compose files and the Dockerfile are checked for the rules in README "Deploying".
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { StatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { PROGRAM_ENTRIES } from '../src/build';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DEPLOY = path.join(ROOT, 'deploy');
const ROLES = new Set(['gateway', 'worker', 'web']);

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)],
  );
}

const yamlFiles = walk(DEPLOY).filter((f) => /\.ya?ml$/.test(f));
const rel = (f: string) => path.relative(ROOT, f);

function parseYaml(file: string): any[] {
  const docs = parseAllDocuments(readFileSync(file, 'utf8'), { merge: true }); // compose uses << merge keys
  if (!Array.isArray(docs)) return []; // an empty file
  for (const d of docs) {
    if (d.errors.length > 0) throw new Error(`${rel(file)}: ${d.errors.map((e) => e.message).join('; ')}`);
  }
  return docs.map((d) => d.toJS({ maxAliasCount: 100 })).filter((o) => o != null);
}

interface K8sObject {
  file: string;
  obj: any;
}
const k8s: K8sObject[] = yamlFiles
  .filter((f) => f.startsWith(path.join(DEPLOY, 'k8s') + path.sep))
  .flatMap((file) => parseYaml(file).map((obj) => ({ file, obj })));
const ofKind = (kind: string) => k8s.filter((o) => o.obj.kind === kind).map((o) => o.obj);
const deployments = ofKind('Deployment');
/** Everything that runs pods of the bot's image: Deployments and the gateway's StatefulSet. */
const workloads = [...deployments, ...ofKind('StatefulSet')];
const podLabels = (d: any): Record<string, string> => d.spec.template.metadata.labels ?? {};
const matches = (selector: Record<string, string>, labels: Record<string, string>) =>
  Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);
const envOf = (c: any): Record<string, any> => Object.fromEntries((c.env ?? []).map((e: any) => [e.name, e]));
/** A container that runs the bot itself (dist/main.js, the image's CMD), not a helper such as the REST proxy. */
const runsBot = (c: any) => c.command == null || c.command.join(' ').includes('dist/main.js');
const rolesOf = (d: any): string[] =>
  String(envOf(d.spec.template.spec.containers[0]).TASTELOOP_ROLES?.value ?? '')
    .split(',')
    .map((r) => r.trim())
    .filter(Boolean);

/** Schema validation with the Kubernetes OpenAPI schemas bundled in kubernetes-models (offline). */
const MODELS: Record<string, new (data: any) => { validate(): void }> = {
  'apps/v1/Deployment': Deployment,
  'apps/v1/StatefulSet': StatefulSet,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'v1/ConfigMap': ConfigMap,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'v1/Secret': Secret,
  'v1/Service': Service,
};

describe('deploy/: every YAML file parses', () => {
  it('finds the files', () => {
    expect(yamlFiles.map(rel)).toEqual(
      expect.arrayContaining(['deploy/compose.yml', 'deploy/compose.roles.yml', 'deploy/k8s/gateway.yaml']),
    );
  });
  it.each(yamlFiles.map(rel))('%s', (file) => {
    expect(() => parseYaml(path.join(ROOT, file))).not.toThrow();
  });
});

describe('Kubernetes manifests (deploy/k8s)', () => {
  it('every object has apiVersion, kind, metadata.name, no namespace, and passes the Kubernetes schema', () => {
    expect(k8s.length).toBeGreaterThan(0);
    for (const { file, obj } of k8s) {
      const where = `${rel(file)} ${obj.kind}/${obj.metadata?.name}`;
      expect(obj.apiVersion, where).toEqual(expect.any(String));
      expect(obj.kind, where).toEqual(expect.any(String));
      expect(obj.metadata?.name, where).toEqual(expect.any(String));
      expect(obj.metadata?.namespace, `${where} must be namespace-agnostic`).toBeUndefined();
      const Model = MODELS[`${obj.apiVersion}/${obj.kind}`];
      expect(Model, `${where}: no schema validator registered for ${obj.apiVersion}/${obj.kind}`).toBeDefined();
      expect(() => new Model!(obj).validate(), where).not.toThrow();
    }
  });

  it('object names are unique per kind', () => {
    const keys = k8s.map((o) => `${o.obj.kind}/${o.obj.metadata.name}`);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('the Secret example holds placeholders only and lives outside the applied directory', () => {
    const secrets = k8s.filter((o) => o.obj.kind === 'Secret');
    expect(secrets.length).toBeGreaterThan(0);
    for (const { file, obj } of secrets) {
      expect(rel(file)).toMatch(/^deploy\/k8s\/examples\//);
      for (const [key, value] of Object.entries<string>(obj.stringData ?? {})) {
        expect(value === '' || value.includes('CHANGE-ME'), `${key} must be a placeholder`).toBe(true);
      }
      expect(obj.data, 'use stringData placeholders, not encoded data').toBeUndefined();
    }
  });

  it.each(workloads.map((d) => [d.metadata.name, d]))('%s: containers are locked down, probed and sized', (_name, d) => {
    const pod = d.spec.template.spec;
    expect(matches(d.spec.selector.matchLabels, podLabels(d)), 'selector matches the pod labels').toBe(true);
    const volumes = Object.fromEntries((pod.volumes ?? []).map((v: any) => [v.name, v]));
    for (const c of [...(pod.initContainers ?? []), ...pod.containers]) {
      const where = `${d.metadata.name}/${c.name}`;
      // Compiled JavaScript only: no tsx loader, no TypeScript source.
      expect((c.command ?? []).join(' '), where).not.toMatch(/\btsx\b|\.ts\b/);
      // Image pinned to a version, never :latest.
      expect(c.image, where).toMatch(/^[^@]+:[^:@/]*\d[^:@/]*(@sha256:[0-9a-f]{64})?$/);
      expect(c.image, where).not.toMatch(/:latest(@|$)/);
      // Resources.
      for (const k of ['requests', 'limits'])
        for (const r of ['cpu', 'memory']) expect(c.resources?.[k]?.[r], `${where} resources.${k}.${r}`).toBeDefined();
      // Security context (container level, pod level as fallback where Kubernetes allows it).
      const sc = c.securityContext ?? {};
      const psc = pod.securityContext ?? {};
      expect(sc.runAsNonRoot ?? psc.runAsNonRoot, `${where} runAsNonRoot`).toBe(true);
      expect(sc.runAsUser ?? psc.runAsUser, `${where} numeric non-root uid (the image's USER is a name)`).toBeGreaterThan(0);
      expect(sc.readOnlyRootFilesystem, `${where} readOnlyRootFilesystem`).toBe(true);
      expect(sc.allowPrivilegeEscalation, `${where} allowPrivilegeEscalation`).toBe(false);
      expect(sc.capabilities?.drop, `${where} drops ALL capabilities`).toContain('ALL');
      expect(sc.capabilities?.add ?? [], `${where} adds no capability`).toEqual([]);
      expect((sc.seccompProfile ?? psc.seccompProfile)?.type, `${where} seccomp`).toBe('RuntimeDefault');
      // A read-only root needs a writable /tmp (os.tmpdir() for libraries' scratch files).
      const tmp = (c.volumeMounts ?? []).find((m: any) => m.mountPath === '/tmp');
      expect(tmp, `${where} mounts /tmp`).toBeDefined();
      expect(volumes[tmp.name]?.emptyDir, `${where} /tmp is an emptyDir`).toBeDefined();
      // Probes.
      expect(c.livenessProbe?.httpGet, `${where} livenessProbe`).toBeDefined();
      expect(c.readinessProbe?.httpGet, `${where} readinessProbe`).toBeDefined();
      const portNumber = (p: string | number) =>
        typeof p === 'number' ? p : (c.ports ?? []).find((x: any) => x.name === p)?.containerPort;
      if (runsBot(c)) {
        const env = envOf(c);
        const config = ofKind('ConfigMap').find((m) => (c.envFrom ?? []).some((e: any) => e.configMapRef?.name === m.metadata.name));
        const healthPort = Number(env.HEALTH_PORT?.value ?? config?.data?.HEALTH_PORT);
        expect(healthPort, `${where} sets HEALTH_PORT (so the probes cannot miss it)`).toBeGreaterThan(0);
        expect(c.livenessProbe.httpGet.path).toBe('/healthz');
        expect(c.readinessProbe.httpGet.path).toBe('/readyz');
        expect(portNumber(c.livenessProbe.httpGet.port), `${where} liveness on HEALTH_PORT`).toBe(healthPort);
        expect(portNumber(c.readinessProbe.httpGet.port), `${where} readiness on HEALTH_PORT`).toBe(healthPort);
        // Roles.
        expect(env.TASTELOOP_ROLES?.value, `${where} TASTELOOP_ROLES`).toEqual(expect.any(String));
        const roles = rolesOf(d);
        expect(roles.length).toBeGreaterThan(0);
        for (const r of roles) expect(ROLES.has(r), `${where} unknown role ${r}`).toBe(true);
        // Shared DATA_DIR on a ReadWriteMany claim.
        const dataDir = env.DATA_DIR?.value ?? config?.data?.DATA_DIR;
        const mount = (c.volumeMounts ?? []).find((m: any) => m.mountPath === dataDir);
        expect(mount, `${where} mounts DATA_DIR ${dataDir}`).toBeDefined();
        const claim = volumes[mount.name]?.persistentVolumeClaim?.claimName;
        const pvc = ofKind('PersistentVolumeClaim').find((p) => p.metadata.name === claim);
        expect(pvc?.spec.accessModes, `${where} DATA_DIR claim ${claim}`).toContain('ReadWriteMany');
        // Secrets come from a Secret (secretKeyRef / envFrom), never inline.
        const secretNames = new Set(ofKind('Secret').map((s) => s.metadata.name));
        const refs = [
          ...(c.env ?? []).map((e: any) => e.valueFrom?.secretKeyRef?.name),
          ...(c.envFrom ?? []).map((e: any) => e.secretRef?.name),
        ].filter(Boolean);
        expect(refs.length, `${where} references a Secret`).toBeGreaterThan(0);
        for (const name of refs) expect(secretNames.has(name), `${where} Secret ${name} has an example`).toBe(true);
        for (const key of ['DISCORD_TOKEN', 'SLACK_BOT_TOKEN', 'OPENAI_API_KEY', 'DATABASE_URL', 'REPLICATE_API_TOKEN'])
          expect(env[key]?.value, `${where} ${key} must not be inline`).toBeUndefined();
      }
    }
  });

  // web: in Slack HTTP mode it posts runs from the outbox feed; a run_display_claims row makes one pod
  // show each run, so several pods and rolling updates are safe: keep at least two for availability,
  // and never take the last one down during an update.
  it('web: exactly one Deployment, at least 2 replicas, a rolling update that keeps one up, not autoscaled', () => {
    const ds = workloads.filter((d) => rolesOf(d).includes('web'));
    expect(ds.length).toBe(1);
    const [d] = ds;
    expect(d.kind).toBe('Deployment');
    expect(d.spec.replicas).toBeGreaterThanOrEqual(2);
    expect(d.spec.strategy?.type).toBe('RollingUpdate');
    expect(d.spec.strategy?.rollingUpdate?.maxUnavailable).toBe(0);
    const hpaTargets = ofKind('HorizontalPodAutoscaler').map((h) => h.spec.scaleTargetRef.name);
    expect(hpaTargets).not.toContain(d.metadata.name);
  });

  // gateway: each pod runs the Discord shards of its StatefulSet index (process i of DISCORD_GATEWAYS), so
  // the index comes from the pod itself and the count of gateways is the replica count.
  it('gateway: one StatefulSet whose pod index is DISCORD_GATEWAY_INDEX of DISCORD_GATEWAYS = replicas', () => {
    const gateways = workloads.filter((d) => rolesOf(d).includes('gateway'));
    expect(gateways.map((g) => g.kind)).toEqual(['StatefulSet']);
    const [sts] = gateways;
    const env = envOf(sts.spec.template.spec.containers[0]);
    expect(env.DISCORD_GATEWAY_INDEX?.valueFrom?.fieldRef?.fieldPath).toBe("metadata.labels['apps.kubernetes.io/pod-index']");
    expect(env.DISCORD_GATEWAY_INDEX?.value, 'the index is never fixed in the file').toBeUndefined();
    expect(sts.spec.replicas).toBeGreaterThanOrEqual(1);
    expect(Number(env.DISCORD_GATEWAYS?.value)).toBe(sts.spec.replicas);
    expect(Number(env.DISCORD_SHARD_COUNT?.value), 'every gateway has a shard').toBeGreaterThanOrEqual(sts.spec.replicas);
    expect(env.DISCORD_SHARD_IDS, 'shards come from the index, not a list').toBeUndefined();
    // Its governing Service exists, is headless and selects its pods.
    const svc = ofKind('Service').find((s) => s.metadata.name === sts.spec.serviceName);
    expect(svc, `the governing Service ${sts.spec.serviceName}`).toBeDefined();
    expect(svc.spec.clusterIP).toBe('None');
    expect(matches(svc.spec.selector, podLabels(sts))).toBe(true);
    expect(ofKind('HorizontalPodAutoscaler').map((h) => h.spec.scaleTargetRef.name)).not.toContain(sts.metadata.name);
  });

  it('workers: at least 2 replicas and a CPU HorizontalPodAutoscaler on an existing Deployment', () => {
    const workers = deployments.filter((d) => rolesOf(d).join(',') === 'worker');
    expect(workers.length).toBe(1);
    expect(workers[0].spec.replicas).toBeGreaterThanOrEqual(2);
    const hpas = ofKind('HorizontalPodAutoscaler');
    expect(hpas.length).toBeGreaterThan(0);
    for (const h of hpas) {
      expect(h.apiVersion).toBe('autoscaling/v2');
      const ref = h.spec.scaleTargetRef;
      const target = deployments.find((d) => d.metadata.name === ref.name);
      expect(ref.kind).toBe('Deployment');
      expect(target, `HPA ${h.metadata.name} targets ${ref.name}`).toBeDefined();
      expect(h.spec.metrics.some((m: any) => m.type === 'Resource' && m.resource.name === 'cpu')).toBe(true);
      expect(h.spec.minReplicas).toBeLessThanOrEqual(h.spec.maxReplicas);
      // CPU utilization needs CPU requests.
      for (const c of target.spec.template.spec.containers) expect(c.resources.requests.cpu).toBeDefined();
    }
    expect(hpas.map((h) => h.spec.scaleTargetRef.name)).toContain(workers[0].metadata.name);
  });

  it('web: playground off, and a Service for the Slack HTTP port', () => {
    const webs = deployments.filter((d) => rolesOf(d).includes('web'));
    expect(webs.length).toBeGreaterThan(0);
    for (const w of webs) {
      const c = w.spec.template.spec.containers[0];
      expect(envOf(c).PLAYGROUND?.value).toBe('off');
      const slackPort = c.ports.find((p: any) => p.name === 'slack');
      expect(slackPort?.containerPort).toBe(Number(envOf(c).SLACK_PORT?.value ?? 3001));
      const svc = ofKind('Service').find((s) => matches(s.spec.selector, podLabels(w)));
      expect(svc, `a Service selects ${w.metadata.name}`).toBeDefined();
      expect(svc.spec.ports.some((p: any) => p.targetPort === 'slack' || p.targetPort === slackPort.containerPort)).toBe(true);
      expect(svc.spec.type ?? 'ClusterIP', 'expose through an Ingress with TLS, not a node port').toBe('ClusterIP');
    }
    // No container exposes the playground port.
    for (const d of workloads)
      for (const c of d.spec.template.spec.containers) expect((c.ports ?? []).map((p: any) => p.containerPort)).not.toContain(3000);
  });

  it('every Service and PodDisruptionBudget selects a workload, and every workload has a PDB', () => {
    for (const s of ofKind('Service'))
      expect(
        workloads.some((d) => matches(s.spec.selector, podLabels(d))),
        `Service ${s.metadata.name}`,
      ).toBe(true);
    const pdbs = ofKind('PodDisruptionBudget');
    for (const p of pdbs) {
      expect(
        workloads.some((d) => matches(p.spec.selector.matchLabels, podLabels(d))),
        `PDB ${p.metadata.name}`,
      ).toBe(true);
      expect((p.spec.minAvailable == null) !== (p.spec.maxUnavailable == null), `PDB ${p.metadata.name}: one of min/max`).toBe(true);
    }
    for (const d of workloads) {
      const pdb = pdbs.find((p) => matches(p.spec.selector.matchLabels, podLabels(d)));
      expect(pdb, `PDB for ${d.metadata.name}`).toBeDefined();
      // minAvailable >= replicas would block every node drain.
      if (typeof pdb.spec.minAvailable === 'number') expect(pdb.spec.minAvailable).toBeLessThan(d.spec.replicas);
    }
  });
});

describe('compose files (deploy/compose*.yml)', () => {
  const composeFiles = yamlFiles.filter((f) => /compose[^/]*\.ya?ml$/.test(path.basename(f)));
  const load = (f: string) => parseYaml(f)[0];
  const bots = (c: any) => Object.entries<any>(c.services).filter(([, s]) => s.build != null || /tasteloop/.test(s.image ?? ''));
  /** Services another waits for to have finished successfully: one-shot set-up steps. */
  const oneShots = (c: any) =>
    new Set(
      Object.values<any>(c.services).flatMap((s) =>
        Object.entries<any>(s.depends_on ?? {})
          .filter(([, d]) => d?.condition === 'service_completed_successfully')
          .map(([name]) => name),
      ),
    );

  it('there are compose files', () => expect(composeFiles.length).toBeGreaterThanOrEqual(2));

  it.each(composeFiles.map(rel))('%s: restart policies, loopback-only ports, a healthy PostgreSQL first', (file) => {
    const compose = load(path.join(ROOT, file));
    const services = Object.entries<any>(compose.services);
    const setUpSteps = oneShots(compose);
    for (const [name, s] of services) {
      // A set-up step (the bucket) runs once: retried when it fails, never restarted once it succeeded.
      if (setUpSteps.has(name)) expect(s.restart, `${name} restart`).toBe('on-failure');
      else expect(['unless-stopped', 'always'], `${name} restart`).toContain(s.restart);
      for (const p of s.ports ?? []) {
        if (typeof p === 'string' || typeof p === 'number') {
          expect(String(p), `${name} port ${p} must be bound to 127.0.0.1`).toMatch(/^127\.0\.0\.1:\d+:\d+(\/(tcp|udp))?$/);
        } else {
          expect(p.host_ip, `${name} port ${JSON.stringify(p)}`).toBe('127.0.0.1');
        }
      }
      for (const e of s.expose ?? []) expect(String(e)).not.toContain('0.0.0.0');
      expect(s.network_mode, `${name} must not share the host network`).not.toBe('host');
    }
    const pg = services.filter(([, s]) => /^postgres(:|$)/.test(s.image ?? ''));
    expect(pg.length).toBe(1);
    const [pgName, pgService] = pg[0]!;
    expect(pgService.image).toMatch(/^postgres:\d+/);
    expect(pgService.healthcheck?.test).toBeDefined();
    expect((pgService.volumes ?? []).some((v: string) => String(v).includes('/var/lib/postgresql/data'))).toBe(true);
    const botServices = bots(compose);
    expect(botServices.length).toBeGreaterThan(0);
    const urls = new Set<string>();
    const dataVolumes = new Set<string>();
    for (const [name, s] of botServices) {
      expect(s.depends_on?.[pgName]?.condition, `${name} waits for PostgreSQL`).toBe('service_healthy');
      expect(s.env_file, `${name} reads secrets from an .env file`).toBeDefined();
      expect(s.environment?.TASTELOOP_ROLES, `${name} TASTELOOP_ROLES`).toEqual(expect.any(String));
      expect(String(s.environment?.PLAYGROUND)).toMatch(/^(off|\$\{PLAYGROUND:-off\})$/);
      expect(s.healthcheck?.test, `${name} healthcheck`).toBeDefined();
      expect(s.image ?? '', `${name} image tag`).not.toMatch(/:latest$/);
      urls.add(s.environment.DATABASE_URL);
      const dataDir = s.environment.DATA_DIR;
      const vol = (s.volumes ?? []).map(String).find((v: string) => v.endsWith(`:${dataDir}`));
      expect(vol, `${name} mounts a volume on DATA_DIR`).toBeDefined();
      dataVolumes.add(vol.split(':')[0]);
      for (const r of String(s.environment.TASTELOOP_ROLES).split(',')) expect(ROLES.has(r.trim())).toBe(true);
    }
    expect(urls.size, 'one DATABASE_URL for every process').toBe(1);
    expect(dataVolumes.size, 'one shared DATA_DIR volume for every process').toBe(1);
  });

  it.each(composeFiles.map(rel))('%s: image bytes in a MinIO bucket created before the bots start (IMAGE_STORE=s3)', (file) => {
    const compose = load(path.join(ROOT, file));
    const services = Object.entries<any>(compose.services);
    const minio = services.filter(([, s]) => /^minio\/minio(:|$)/.test(s.image ?? ''));
    expect(minio.length).toBe(1);
    const [minioName, minioService] = minio[0]!;
    expect(minioService.image, 'a pinned MinIO release').toMatch(/^minio\/minio:RELEASE\.\d{4}-\d{2}-\d{2}T[\d-]+Z$/);
    expect(minioService.healthcheck?.test).toBeDefined();
    expect(
      (minioService.volumes ?? []).map(String).some((v: string) => v.endsWith(':/data')),
      'objects on a volume',
    ).toBe(true);
    // The bucket: a one-shot mc run after MinIO is healthy.
    const makers = services.filter(([, s]) => /^minio\/mc:RELEASE\./.test(s.image ?? ''));
    expect(makers.length).toBe(1);
    const [makerName, maker] = makers[0]!;
    expect(maker.depends_on?.[minioName]?.condition).toBe('service_healthy');
    expect([maker.entrypoint, maker.command].flat().join(' ')).toMatch(/mc mb --ignore-existing "store\/\$\$S3_BUCKET"/);
    for (const [name, s] of bots(compose)) {
      const env = s.environment;
      expect(env.IMAGE_STORE, `${name} IMAGE_STORE`).toBe('s3');
      expect(env.S3_ENDPOINT, `${name} S3_ENDPOINT`).toBe(`http://${minioName}:9000`);
      expect(env.S3_FORCE_PATH_STYLE, `${name} path-style requests (MinIO)`).toBe('on');
      expect(env.S3_BUCKET, `${name} uses the bucket ${makerName} creates`).toBe(maker.environment.S3_BUCKET);
      expect(env.AWS_ACCESS_KEY_ID, `${name} the MinIO login`).toBe(minioService.environment.MINIO_ROOT_USER);
      expect(env.AWS_SECRET_ACCESS_KEY, `${name} the MinIO login`).toBe(minioService.environment.MINIO_ROOT_PASSWORD);
      expect(s.depends_on?.[makerName]?.condition, `${name} waits for the bucket`).toBe('service_completed_successfully');
    }
  });

  it('the roles example splits gateway+web from workers', () => {
    const compose = load(path.join(DEPLOY, 'compose.roles.yml'));
    const roles = bots(compose).map(([, s]) => String(s.environment.TASTELOOP_ROLES));
    expect(roles).toContain('gateway,web');
    expect(roles).toContain('worker');
    const worker = bots(compose).find(([, s]) => s.environment.TASTELOOP_ROLES === 'worker')![1];
    expect(worker.ports ?? []).toEqual([]);
  });
});

describe('deploy/Dockerfile and .dockerignore', () => {
  const text = readFileSync(path.join(DEPLOY, 'Dockerfile'), 'utf8');
  // Instructions with line continuations joined, comments dropped.
  const instructions = text
    .replace(/\\\r?\n/g, ' ')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const [op = '', ...rest] = l.split(/\s+/);
      return { op: op.toUpperCase(), args: rest.join(' ') };
    });
  const args = Object.fromEntries(
    instructions.filter((i) => i.op === 'ARG' && i.args.includes('=')).map((i) => i.args.split('=', 2) as [string, string]),
  );
  const resolve = (s: string) => s.replace(/\$\{?(\w+)\}?/g, (_, k: string) => args[k] ?? `$${k}`);
  const froms = instructions.filter((i) => i.op === 'FROM').map((i) => resolve(i.args.split(/\s+/)[0]!));

  it('is multi-stage on a pinned node bookworm-slim base', () => {
    expect(froms.length).toBeGreaterThanOrEqual(2);
    for (const image of froms) {
      expect(image).toMatch(/^node:\d+\.\d+\.\d+-bookworm-slim(@sha256:[0-9a-f]{64})?$/);
      expect(image).not.toMatch(/:latest/);
    }
    expect(text, 'a comment says to pin by digest in production').toMatch(/digest/i);
  });

  /** Each stage's instructions after its FROM, in order; the last one is the image. */
  const stages = instructions.reduce<(typeof instructions)[]>(
    (acc, i) => (i.op === 'FROM' ? [...acc, []] : (acc.at(-1)?.push(i), acc)),
    [],
  );
  const stageNames = instructions.filter((i) => i.op === 'FROM').map((i) => /\bAS\s+(\S+)/i.exec(i.args)?.[1]);

  it('compiles in a build stage, which then keeps production dependencies only', () => {
    const runtime = stages.at(-1)!;
    const from = (what: string) =>
      runtime.find((i) => i.op === 'COPY' && new RegExp(`/app/${what}\\s`).test(i.args))?.args.match(/--from=(\S+)/)?.[1];
    const buildStage = from('dist');
    expect(buildStage, 'the image copies dist/ from a build stage').toBeDefined();
    expect(from('node_modules'), 'node_modules come from the same stage').toBe(buildStage);
    const runs = stages[stageNames.indexOf(buildStage)]!.filter((i) => i.op === 'RUN')
      .map((i) => i.args)
      .join(' && ');
    expect(runs).toMatch(/\bnpm ci\b/);
    const build = runs.indexOf('npm run build');
    const prune = runs.indexOf('npm prune --omit=dev');
    expect(build, 'npm run build').toBeGreaterThanOrEqual(0);
    expect(prune, 'dev dependencies pruned after the build').toBeGreaterThan(build);
    // The image holds the compiled output, not the sources.
    expect(runtime.filter((i) => i.op === 'COPY' && !i.args.includes('--from=')).map((i) => i.args)).toEqual([]);
  });

  it('runs the compiled bot with node, never through tsx', () => {
    const runtime = stages.at(-1)!;
    const cmd = runtime.filter((i) => i.op === 'CMD').at(-1)!;
    expect(JSON.parse(cmd.args)).toEqual(['node', '--enable-source-maps', 'dist/main.js']);
    for (const i of runtime) expect(`${i.op} ${i.args}`).not.toMatch(/\btsx\b/);
  });

  it('every compiled program the deploy files name is an entry of the build', () => {
    const scripts = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    const named = [
      text,
      ...k8s.flatMap(({ obj }) => (obj.spec?.template?.spec?.containers ?? []).map((c: any) => (c.command ?? []).join(' '))),
      scripts['start:prod'],
    ]
      .join('\n')
      .matchAll(/\bdist\/([\w-]+)\.js\b/g);
    const programs = new Set([...named].map((m) => m[1]!));
    expect([...programs]).toEqual(expect.arrayContaining(['main', 'rest-proxy']));
    for (const p of programs) expect(Object.keys(PROGRAM_ENTRIES), `dist/${p}.js`).toContain(p);
  });

  it('runs as a non-root user with a HEALTHCHECK, NODE_ENV=production and SIGTERM', () => {
    const users = instructions.filter((i) => i.op === 'USER').map((i) => i.args);
    expect(users.length).toBeGreaterThan(0);
    expect(['root', '0', '0:0']).not.toContain(users.at(-1));
    const health = instructions.filter((i) => i.op === 'HEALTHCHECK');
    expect(health.length).toBe(1);
    expect(health[0]!.args).toMatch(/127\.0\.0\.1/);
    expect(health[0]!.args).toMatch(/HEALTH_PORT/);
    expect(health[0]!.args).toMatch(/\/healthz/);
    expect(health[0]!.args).not.toMatch(/\bcurl\b|\bwget\b/);
    expect(instructions.some((i) => i.op === 'ENV' && /NODE_ENV=production/.test(i.args))).toBe(true);
    expect(instructions.some((i) => i.op === 'STOPSIGNAL' && i.args === 'SIGTERM')).toBe(true);
    expect(instructions.some((i) => i.op === 'RUN' && /chown node(:node)? \/data/.test(i.args))).toBe(true);
    const cmd = instructions.filter((i) => i.op === 'CMD').at(-1);
    expect(cmd?.args, 'exec form, node directly, so SIGTERM reaches the app').toMatch(/^\[\s*"node"/);
  });

  it('.dockerignore keeps node_modules, .git and data out but not what the build copies', () => {
    const ignore = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8')
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'));
    for (const p of ['node_modules', '.git', 'data']) expect(ignore).toContain(p);
    const copied = instructions
      .filter((i) => i.op === 'COPY' && !/--from=/.test(i.args))
      .flatMap((i) =>
        i.args
          .split(/\s+/)
          .filter((a) => !a.startsWith('--'))
          .slice(0, -1),
      );
    expect(copied).toEqual(expect.arrayContaining(['package.json', 'package-lock.json', 'src']));
    const top = new Set(ignore.map((p) => p.replace(/^\/|\/$/g, '')));
    for (const c of copied) expect(top.has(c.replace(/\/$/, '')), `${c} is copied but ignored`).toBe(false);
  });
});
