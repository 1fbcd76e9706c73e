//! The deployment files cannot drift from the binary: the Kubernetes manifests under
//! `k8s/`, `docker-compose.yml` and the `Dockerfile` may only name settings that
//! `lightrag-master --help` knows (and storage classes it offers), their probes must hit
//! `/health` on the served port, and a stop must stay graceful: the time the platform
//! grants before SIGKILL covers `GRACEFUL_TIMEOUT` plus the preStop delay. The manifests
//! are also checked against the Kubernetes schema by `kubernetes-validate` when it is on
//! PATH (`.ci/run` installs it; `LRM_REQUIRE_K8S_VALIDATE=1` makes its absence a failure).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::help::{HelpOption, help_options};
use yaml_rust2::{Yaml, YamlLoader};

const STORAGE_VARIABLES: [&str; 4] = [
    "LIGHTRAG_KV_STORAGE",
    "LIGHTRAG_DOC_STATUS_STORAGE",
    "LIGHTRAG_VECTOR_STORAGE",
    "LIGHTRAG_GRAPH_STORAGE",
];

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {path:?}: {e}"))
}

/// The settings of `--help`, by environment variable.
fn settings() -> BTreeMap<String, HelpOption> {
    help_options()
        .into_iter()
        .filter_map(|o| Some((o.setting.clone()?.0, o)))
        .collect()
}

/// The value `--help` gives as the default of `variable`.
fn default_of(settings: &BTreeMap<String, HelpOption>, variable: &str) -> String {
    settings[variable].setting.as_ref().unwrap().1.clone()
}

/// Checks one variable a deployment file sets for the server: `--help` must know it.
fn check_setting(settings: &BTreeMap<String, HelpOption>, file: &str, name: &str) {
    assert!(
        settings.contains_key(name),
        "{file} sets {name}, which `lightrag-master --help` does not know"
    );
}

/// Starts the binary with the settings `env` gives it, PostgreSQL moved to a loopback
/// port where nothing listens (one attempt), and checks it got as far as connecting:
/// every name and value was accepted (a refused one stops start-up with exit 1 before
/// any worker, an unknown storage class included), and it failed only for want of
/// PostgreSQL (exit 4, naming the address).
fn accepted_up_to_postgres(file: &str, env: &BTreeMap<String, Option<String>>) {
    let port = common::free_port();
    let mut builder = common::Server::builder("deployment-env").no_wait();
    for (name, value) in env {
        builder = builder.env(name, value.as_deref().unwrap_or_default());
    }
    let mut server = builder
        .env("POSTGRES_HOST", "127.0.0.1")
        .env("POSTGRES_PORT", &port.to_string())
        .env("POSTGRES_CONNECTION_RETRIES", "1")
        .start();
    let status = server
        .wait_exit(Duration::from_secs(60))
        .expect("the server did not stop without its PostgreSQL");
    let output = server.output();
    assert_eq!(status.code(), Some(4), "{file}'s settings:\n{output}");
    assert!(
        output.contains(&format!("127.0.0.1:{port}")),
        "{file}'s settings: no word of PostgreSQL:\n{output}"
    );
}

/// A YAML scalar as text (`"30"`, `30` and `true` alike).
fn scalar(y: &Yaml) -> Option<String> {
    match y {
        Yaml::String(s) | Yaml::Real(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

fn list(y: &Yaml) -> &[Yaml] {
    y.as_vec().map(Vec::as_slice).unwrap_or_default()
}

fn entries(y: &Yaml) -> Vec<(String, &Yaml)> {
    y.as_hash()
        .map(|h| {
            h.iter()
                .filter_map(|(k, v)| Some((scalar(k)?, v)))
                .collect()
        })
        .unwrap_or_default()
}

/// Every YAML document of `k8s/*.yaml`.
struct Manifests {
    docs: Vec<(String, Yaml)>,
}

impl Manifests {
    fn files() -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(repo().join("k8s"))
            .expect("k8s/ holds the Kubernetes manifests")
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
            .collect();
        files.sort();
        assert!(!files.is_empty(), "no manifest in k8s/");
        files
    }

    fn load() -> Self {
        let mut docs = Vec::new();
        for path in Self::files() {
            let file = path.strip_prefix(repo()).unwrap().display().to_string();
            let parsed = YamlLoader::load_from_str(&read(&path))
                .unwrap_or_else(|e| panic!("{file} is not YAML: {e}"));
            docs.extend(
                parsed
                    .into_iter()
                    .filter(|d| !d.is_null())
                    .map(|d| (file.clone(), d)),
            );
        }
        Manifests { docs }
    }

    fn of_kind(&self, kind: &str) -> Vec<(&str, &Yaml)> {
        self.docs
            .iter()
            .filter(|(_, d)| d["kind"].as_str() == Some(kind))
            .map(|(f, d)| (f.as_str(), d))
            .collect()
    }

    fn named(&self, kind: &str, name: &str) -> &Yaml {
        self.of_kind(kind)
            .into_iter()
            .find(|(_, d)| d["metadata"]["name"].as_str() == Some(name))
            .map(|(_, d)| d)
            .unwrap_or_else(|| panic!("no {kind} {name} in k8s/"))
    }

    /// The keys and values of a ConfigMap's `data` or a Secret's `stringData`/`data`.
    fn keys(&self, kind: &str, name: &str) -> BTreeMap<String, Option<String>> {
        let doc = self.named(kind, name);
        ["data", "stringData"]
            .iter()
            .flat_map(|field| entries(&doc[*field]))
            .map(|(k, v)| (k, scalar(v)))
            .collect()
    }

    /// The value a `configMapKeyRef` or `secretKeyRef` points at; the key must exist.
    fn key_ref(&self, file: &str, value_from: &Yaml) -> Option<String> {
        let (kind, reference) = match (&value_from["configMapKeyRef"], &value_from["secretKeyRef"])
        {
            (r, _) if !r.is_badvalue() => ("ConfigMap", r),
            (_, r) if !r.is_badvalue() => ("Secret", r),
            _ => return None,
        };
        let name = reference["name"].as_str().unwrap();
        let key = reference["key"].as_str().unwrap();
        self.keys(kind, name).remove(key).unwrap_or_else(|| {
            panic!("{file} refers to key {key} of {kind} {name}, which lacks it")
        })
    }

    /// Every workload's pod template: (file, workload, pod spec).
    fn pod_specs(&self) -> Vec<(&str, &Yaml, &Yaml)> {
        ["Deployment", "StatefulSet"]
            .iter()
            .flat_map(|kind| self.of_kind(kind))
            .map(|(f, d)| (f, d, &d["spec"]["template"]["spec"]))
            .collect()
    }

    /// The Deployment that runs lightrag-master, its pod spec and the server's container.
    fn server(&self) -> (&str, &Yaml, &Yaml, &Yaml) {
        let found: Vec<_> = self
            .pod_specs()
            .into_iter()
            .flat_map(|(f, d, spec)| {
                list(&spec["containers"])
                    .iter()
                    .map(move |c| (f, d, spec, c))
            })
            .filter(|(_, _, _, c)| {
                let image = c["image"].as_str().unwrap_or_default();
                image
                    .rsplit('/')
                    .next()
                    .unwrap()
                    .starts_with("lightrag-master")
            })
            .collect();
        assert_eq!(found.len(), 1, "one lightrag-master container in k8s/");
        let (file, workload, spec, container) = found[0];
        assert_eq!(workload["kind"].as_str(), Some("Deployment"), "{file}");
        (file, workload, spec, container)
    }

    /// The environment the server's container gets, from `env` and `envFrom`.
    fn server_env(&self) -> BTreeMap<String, Option<String>> {
        let (file, _, _, container) = self.server();
        let mut env = BTreeMap::new();
        for from in list(&container["envFrom"]) {
            assert!(
                from["prefix"].is_badvalue(),
                "{file}: envFrom with a prefix"
            );
            if let Some(name) = from["configMapRef"]["name"].as_str() {
                env.extend(self.keys("ConfigMap", name));
            }
            if let Some(name) = from["secretRef"]["name"].as_str() {
                env.extend(self.keys("Secret", name));
            }
        }
        for var in list(&container["env"]) {
            let value = scalar(&var["value"]).or_else(|| self.key_ref(file, &var["valueFrom"]));
            env.insert(var["name"].as_str().unwrap().to_owned(), value);
        }
        env
    }
}

/// The number a setting has for the server: its value, else `--help`'s default.
fn seconds(
    env: &BTreeMap<String, Option<String>>,
    settings: &BTreeMap<String, HelpOption>,
    variable: &str,
) -> u64 {
    let value = match env.get(variable) {
        Some(Some(v)) => v.clone(),
        _ => default_of(settings, variable),
    };
    value
        .parse()
        .unwrap_or_else(|e| panic!("{variable}={value}: {e}"))
}

#[test]
fn k8s_manifests_set_only_settings_the_binary_knows() {
    let settings = settings();
    let k8s = Manifests::load();
    let (file, ..) = k8s.server();
    let env = k8s.server_env();
    for name in env.keys() {
        check_setting(&settings, file, name);
    }
    accepted_up_to_postgres(file, &env);
    // Several replicas share one store: every role is in PostgreSQL, which a Service of
    // k8s/ serves on the port the server is given.
    for variable in STORAGE_VARIABLES {
        let class = env.get(variable).cloned().flatten().unwrap_or_default();
        assert!(
            class.starts_with("PG"),
            "{file}: {variable}={class}, not a PG storage"
        );
    }
    let host = env["POSTGRES_HOST"].clone().unwrap();
    let port = seconds(&env, &settings, "POSTGRES_PORT");
    let service = k8s.named("Service", &host);
    assert!(
        list(&service["spec"]["ports"])
            .iter()
            .any(|p| p["port"].as_i64() == Some(port as i64)),
        "Service {host} does not serve POSTGRES_PORT {port}"
    );
    // Every key reference of every workload (PostgreSQL's too) resolves.
    for (file, _, spec) in k8s.pod_specs() {
        for container in list(&spec["containers"]) {
            for var in list(&container["env"]) {
                k8s.key_ref(file, &var["valueFrom"]);
            }
        }
    }
}

#[test]
fn k8s_probes_ask_health_on_the_served_port() {
    let settings = settings();
    let k8s = Manifests::load();
    let (file, _, _, container) = k8s.server();
    let port = seconds(&k8s.server_env(), &settings, "PORT");
    let ports = list(&container["ports"]);
    for probe in ["readinessProbe", "livenessProbe", "startupProbe"] {
        let check = &container[probe];
        if check.is_badvalue() {
            assert_ne!(probe, "readinessProbe", "{file}: no readinessProbe");
            assert_ne!(probe, "livenessProbe", "{file}: no livenessProbe");
            continue;
        }
        let get = &check["httpGet"];
        assert_eq!(get["path"].as_str(), Some("/health"), "{file}: {probe}");
        let target = match &get["port"] {
            Yaml::Integer(n) => *n,
            named => ports
                .iter()
                .find(|p| p["name"] == *named)
                .and_then(|p| p["containerPort"].as_i64())
                .unwrap_or_else(|| panic!("{file}: {probe} on an unknown port {named:?}")),
        };
        assert_eq!(target, port as i64, "{file}: {probe} is not on PORT");
    }
}

/// The preStop delay: `exec` of `sleep N`, or Kubernetes' own `sleep` action.
fn prestop_seconds(file: &str, container: &Yaml) -> u64 {
    let pre_stop = &container["lifecycle"]["preStop"];
    if let Some(n) = pre_stop["sleep"]["seconds"].as_i64() {
        return n as u64;
    }
    let command: Vec<String> = list(&pre_stop["exec"]["command"])
        .iter()
        .filter_map(scalar)
        .collect();
    match command.as_slice() {
        [sleep, n] if sleep.rsplit('/').next() == Some("sleep") => n.parse().unwrap(),
        _ => panic!("{file}: preStop is not a sleep: {command:?}"),
    }
}

#[test]
fn k8s_grace_period_covers_the_graceful_stop_after_the_prestop_delay() {
    let settings = settings();
    let k8s = Manifests::load();
    let (file, workload, spec, container) = k8s.server();
    let graceful = seconds(&k8s.server_env(), &settings, "GRACEFUL_TIMEOUT");
    // A pod leaves the Service's endpoints while its preStop runs, not before: the delay
    // keeps it accepting until load balancers have stopped sending to it.
    let delay = prestop_seconds(file, container);
    assert!(delay > 0, "{file}: preStop sleeps 0 s");
    let grace = spec["terminationGracePeriodSeconds"].as_i64().unwrap_or(30) as u64;
    assert!(
        grace >= graceful + delay,
        "{file}: terminationGracePeriodSeconds {grace} < preStop {delay} + GRACEFUL_TIMEOUT {graceful}"
    );
    // A rolling update starts a new pod before it stops an old one.
    let rolling = &workload["spec"]["strategy"]["rollingUpdate"];
    assert_eq!(
        scalar(&rolling["maxUnavailable"]).as_deref(),
        Some("0"),
        "{file}"
    );
}

/// `selector` picks pods with `labels`.
fn selects(selector: &Yaml, labels: &Yaml) -> bool {
    let selector = entries(selector);
    !selector.is_empty() && selector.iter().all(|(k, v)| labels[k.as_str()] == **v)
}

#[test]
fn k8s_service_and_disruption_budget_cover_several_replicas() {
    let k8s = Manifests::load();
    let (file, workload, _, container) = k8s.server();
    let replicas = workload["spec"]["replicas"].as_i64().unwrap_or(1);
    assert!(replicas >= 2, "{file}: {replicas} replica(s)");
    let labels = &workload["spec"]["template"]["metadata"]["labels"];
    assert!(selects(
        &workload["spec"]["selector"]["matchLabels"],
        labels
    ));
    let port_names: BTreeSet<Yaml> = list(&container["ports"])
        .iter()
        .flat_map(|p| [p["name"].clone(), p["containerPort"].clone()])
        .collect();
    let services: Vec<_> = k8s
        .of_kind("Service")
        .into_iter()
        .filter(|(_, s)| selects(&s["spec"]["selector"], labels))
        .collect();
    assert_eq!(services.len(), 1, "one Service in front of the replicas");
    for port in list(&services[0].1["spec"]["ports"]) {
        assert!(port_names.contains(&port["targetPort"]), "{port:?}");
    }
    let budgets: Vec<_> = k8s
        .of_kind("PodDisruptionBudget")
        .into_iter()
        .filter(|(_, b)| selects(&b["spec"]["selector"]["matchLabels"], labels))
        .collect();
    assert_eq!(budgets.len(), 1, "one PodDisruptionBudget for the replicas");
    let budget = &budgets[0].1["spec"];
    let allowed = match (
        budget["maxUnavailable"].as_i64(),
        budget["minAvailable"].as_i64(),
    ) {
        (Some(max), _) => max,
        (None, Some(min)) => replicas - min,
        _ => panic!("the PodDisruptionBudget sets neither maxUnavailable nor minAvailable"),
    };
    assert!(
        (1..replicas).contains(&allowed),
        "the budget lets {allowed} of {replicas} replicas go at once"
    );
}

#[test]
fn k8s_manifests_validate_against_the_kubernetes_schema() {
    let validator = "kubernetes-validate";
    if Command::new(validator).arg("--version").output().is_err() {
        assert!(
            std::env::var("LRM_REQUIRE_K8S_VALIDATE").as_deref() != Ok("1"),
            "{validator} is not on PATH and LRM_REQUIRE_K8S_VALIDATE=1"
        );
        eprintln!("skipped: {validator} is not on PATH");
        return;
    }
    let validate = |files: &[PathBuf]| {
        Command::new(validator)
            .args(["--strict", "--quiet"])
            .args(files)
            .output()
            .unwrap()
    };
    let out = validate(&Manifests::files());
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The same validator refuses a field the schema lacks, so a pass above means
    // something.
    let dir = common::temp_dir("k8s-validate");
    let broken = dir.join("broken.yaml");
    let text = read(&repo().join("k8s/lightrag.yaml"));
    std::fs::write(&broken, text.replace("maxSurge:", "maxSurges:")).unwrap();
    let out = validate(&[broken]);
    assert!(!out.status.success(), "a misspelt field passed: {out:?}");
    let _ = std::fs::remove_dir_all(dir);
}

/// `40s`, `1m30s`, `2m`: compose's durations, in seconds.
fn compose_seconds(duration: &str) -> u64 {
    let (mut total, mut number) = (0, String::new());
    for c in duration.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let n: u64 = std::mem::take(&mut number).parse().unwrap();
        total += n * match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            _ => panic!("unknown unit in {duration}"),
        };
    }
    assert!(number.is_empty(), "no unit in {duration}");
    total
}

/// The `NAME=value` lines of the `printf '...' >> .env` examples in comments.
fn dotenv_examples(text: &str) -> Vec<Vec<(String, String)>> {
    text.lines()
        .filter_map(|l| l.trim_start().strip_prefix('#'))
        .filter_map(|l| l.split_once("printf '")?.1.split_once('\'').map(|(s, _)| s))
        .map(|body| {
            body.split("\\n")
                .filter(|l| !l.is_empty())
                .map(|l| {
                    let (k, v) = l.split_once('=').unwrap();
                    (k.to_owned(), v.to_owned())
                })
                .collect()
        })
        .collect()
}

/// `${NAME}`, `${NAME:-default}`: the variables compose substitutes (`$$` escapes).
fn interpolated(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (i, _) in text.match_indices("${") {
        if text[..i].ends_with('$') {
            continue;
        }
        let name: String = text[i + 2..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        names.insert(name);
    }
    names
}

#[test]
fn compose_file_sets_only_settings_the_binary_knows_with_a_postgres_variant() {
    let settings = settings();
    let file = "docker-compose.yml";
    let text = read(&repo().join(file));
    let compose = &YamlLoader::load_from_str(&text).unwrap()[0];
    let server = &compose["services"]["lightrag"];
    let mut env: BTreeMap<String, Option<String>> = BTreeMap::new();
    match &server["environment"] {
        Yaml::Array(items) => env.extend(items.iter().filter_map(|i| {
            let (k, v) = i.as_str()?.split_once('=')?;
            Some((k.to_owned(), Some(v.to_owned())))
        })),
        other => env.extend(entries(other).into_iter().map(|(k, v)| (k, scalar(v)))),
    }
    // A stop in compose is SIGTERM then SIGKILL after stop_grace_period: it must cover
    // the graceful stop.
    let graceful = seconds(&env, &settings, "GRACEFUL_TIMEOUT");
    let grace = compose_seconds(server["stop_grace_period"].as_str().unwrap_or("10s"));
    assert!(
        grace > graceful,
        "{file}: stop_grace_period {grace} s <= GRACEFUL_TIMEOUT {graceful}"
    );
    // .env is read by the server (env_file) and by compose (interpolation): a name
    // substituted anywhere in the file is one the user writes there.
    for name in interpolated(&text) {
        check_setting(&settings, file, &name);
    }
    let examples = dotenv_examples(&text);
    for (name, _) in examples.iter().flatten() {
        check_setting(&settings, file, name);
    }
    for name in env.keys() {
        check_setting(&settings, file, name);
    }
    // The PostgreSQL variant: an example .env with every role in PostgreSQL, pointing
    // at a profile's pgvector service that the server waits for.
    let pg: BTreeMap<&str, &str> = examples
        .iter()
        .flatten()
        .filter(|(k, _)| k.starts_with("POSTGRES_") || k.starts_with("LIGHTRAG_"))
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    for variable in STORAGE_VARIABLES {
        let class = pg.get(variable).copied().unwrap_or_default();
        assert!(
            class.starts_with("PG"),
            "{file}: the example sets {variable}={class}"
        );
    }
    let mut example = env.clone();
    example.extend(pg.iter().map(|(k, v)| (k.to_string(), Some(v.to_string()))));
    accepted_up_to_postgres(file, &example);
    let host = pg["POSTGRES_HOST"];
    let postgres = &compose["services"][host];
    assert!(
        list(&postgres["profiles"]).contains(&Yaml::String("postgres".into())),
        "{file}: service {host} is not in a postgres profile"
    );
    assert!(postgres["image"].as_str().unwrap().contains("pgvector"));
    assert_eq!(
        server["depends_on"][host]["required"].as_bool(),
        Some(false),
        "{file}: the server does not wait for {host}"
    );
}

#[test]
fn dockerfile_sets_only_settings_the_binary_knows() {
    let settings = settings();
    let text = read(&repo().join("Dockerfile")).replace("\\\n", " ");
    let mut seen = 0;
    for line in text.lines() {
        let Some(assignments) = line.strip_prefix("ENV ") else {
            continue;
        };
        for (name, _) in assignments
            .split_whitespace()
            .filter_map(|a| a.split_once('='))
        {
            check_setting(&settings, "Dockerfile", name);
            seen += 1;
        }
    }
    assert!(seen > 0, "the Dockerfile sets no ENV");
}
