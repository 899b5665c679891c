//! The wasmtime engine that runs plugins: component model, pooling allocator, async
//! calls with epoch yields (so one timer holds a run's deadline whether the plugin
//! computes or waits), compiled components cached on disk, and linking limited to the
//! interfaces a grant allows.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use anyhow::Context;
use ferry_manifest::ScopeSet;
use sha2::{Digest, Sha256};
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::contract::{v0_1, v0_2, Interface, Served};
use super::host::RunState;
use super::limits::MAX_MEMORY_BYTES;

/// How often the epoch advances: how often a computing plugin yields to the executor,
/// and the granularity of deadlines.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Runs plugins. Cheap to share; one per process.
pub struct PluginEngine {
    engine: Engine,
    cache_dir: Option<PathBuf>,
    ticker_stop: Arc<AtomicBool>,
}

impl Drop for PluginEngine {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
    }
}

/// A compiled plugin, linked for one set of scopes, ready to instantiate quickly.
pub struct PreparedPlugin {
    /// The pre-instantiated plugin.
    pub pre: Pre,
}

/// The pre-instantiated plugin, in the world of the contract line it was built against.
pub enum Pre {
    /// A `0.1.x` plugin.
    V0_1(v0_1::PluginPre<RunState>),
    /// A `0.2.x` plugin.
    V0_2(v0_2::PluginPre<RunState>),
}

impl PluginEngine {
    /// An engine whose compiled components are cached in `cache_dir` (none: no cache).
    pub fn new(cache_dir: Option<PathBuf>) -> anyhow::Result<PluginEngine> {
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(64)
            .total_core_instances(512)
            .total_memories(128)
            .total_tables(512)
            .max_memories_per_component(4)
            .max_tables_per_component(16)
            .max_core_instances_per_component(32)
            .max_memory_size(MAX_MEMORY_BYTES);
        let mut config = Config::new();
        config.wasm_component_model(true).epoch_interruption(true).allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&config).map_err(anyhow::Error::from).context("cannot create the WebAssembly engine")?;
        let ticker_stop = Arc::new(AtomicBool::new(false));
        let (ticking, stop) = (engine.clone(), ticker_stop.clone());
        std::thread::Builder::new().name("ferry-epoch".into()).spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(EPOCH_TICK);
                ticking.increment_epoch();
            }
        })?;
        if let Some(dir) = &cache_dir {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create the compile cache {}", dir.display()))?;
        }
        Ok(PluginEngine { engine, cache_dir, ticker_stop })
    }

    /// The wasmtime engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The cache file of a component: keyed by the engine's compatibility hash (so a new
    /// wasmtime or new settings never load stale code) and the component's sha256.
    fn cache_path(&self, sha256: &str) -> Option<PathBuf> {
        let dir = self.cache_dir.as_ref()?;
        let mut hasher = Sha256Hasher(Sha256::new());
        self.engine.precompile_compatibility_hash().hash(&mut hasher);
        let engine_key = hex::encode(&hasher.0.finalize()[..8]);
        Some(dir.join(engine_key).join(format!("{sha256}.cwasm")))
    }

    /// Compile `bytes` (sha256 `sha256`), or load the cached compilation.
    pub fn load(&self, bytes: &[u8], sha256: &str) -> anyhow::Result<Component> {
        let Some(path) = self.cache_path(sha256) else {
            return Component::new(&self.engine, bytes).map_err(anyhow::Error::from).context("cannot compile the plugin");
        };
        if path.is_file() {
            // SAFETY: the file was written by `Component::serialize` of an engine with the
            // same compatibility hash (the path is keyed by it), into ferry's own cache.
            #[allow(unsafe_code)]
            let cached = unsafe { Component::deserialize_file(&self.engine, &path) };
            match cached {
                Ok(component) => return Ok(component),
                Err(e) => tracing::warn!("ignoring unreadable compile cache entry {}: {e}", path.display()),
            }
        }
        let component = Component::new(&self.engine, bytes).map_err(anyhow::Error::from).context("cannot compile the plugin")?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&tmp, component.serialize().map_err(anyhow::Error::from)?)?;
        std::fs::rename(&tmp, &path)?;
        Ok(component)
    }

    /// Link a component against the interfaces `granted` allows, and pre-instantiate it.
    /// An import of an interface the grant does not allow fails here, before any code runs.
    pub fn prepare(&self, component: &Component, granted: ScopeSet) -> anyhow::Result<PreparedPlugin> {
        link(&self.engine, component, granted)
    }
}

/// Link `component` against the world `granted` allows and pre-instantiate it: every
/// import and the `run` export are type-checked here.
fn link(engine: &Engine, component: &Component, granted: ScopeSet) -> anyhow::Result<PreparedPlugin> {
    for (name, _) in component.component_type().imports(engine) {
        if let Some((Ok(iface), _)) = Interface::parse_import(name) {
            if !iface.allowed_by(granted) {
                let needs: Vec<&str> = iface.scopes().iter().map(|s| s.name()).collect();
                anyhow::bail!("the plugin imports {name}, which needs one of [{}], and the grant holds none of them: it is not linked", needs.join(", "));
            }
        }
    }
    let mut linker: Linker<RunState> = Linker::new(engine);
    add_wasi(&mut linker)?;
    let l = &mut linker;
    // The same host functions serve each contract line, under that line's names.
    macro_rules! add_contract {
        ($wit:path) => {{
            use $wit as wit;
            wit::types::add_to_linker::<RunState, HasSelf<RunState>>(l, |s| s)?;
            wit::app_data::add_to_linker::<RunState, HasSelf<RunState>>(l, |s| s)?;
            wit::progress::add_to_linker::<RunState, HasSelf<RunState>>(l, |s| s)?;
            wit::log::add_to_linker::<RunState, HasSelf<RunState>>(l, |s| s)?;
            if Interface::Mappings.allowed_by(granted) {
                wit::mappings::add_to_linker::<RunState, HasSelf<RunState>>(l, |s| s)?;
            }
            if Interface::AppTables.allowed_by(granted) {
                wit::app_tables::add_to_linker::<RunState, HasSelf<RunState>>(l, |s| s)?;
            }
            if Interface::Product.allowed_by(granted) {
                wit::product::add_to_linker::<RunState, HasSelf<RunState>>(l, |s| s)?;
            }
        }};
    }
    let line = served_line(engine, component)?;
    match line {
        Served::V0_1 => add_contract!(v0_1::ferry::migration),
        Served::V0_2 => {
            add_contract!(v0_2::ferry::migration);
            if Interface::Attachments.allowed_by(granted) {
                v0_2::ferry::migration::attachments::add_to_linker::<RunState, HasSelf<RunState>>(l, |s| s)?;
            }
        }
    }
    let pre = linker.instantiate_pre(component).map_err(anyhow::Error::from).context("cannot link the plugin")?;
    let pre = match line {
        Served::V0_1 => Pre::V0_1(v0_1::PluginPre::new(pre).map_err(anyhow::Error::from).context("the plugin does not match the ferry:migration@0.1 world")?),
        Served::V0_2 => Pre::V0_2(v0_2::PluginPre::new(pre).map_err(anyhow::Error::from).context("the plugin does not match the ferry:migration@0.2 world")?),
    };
    Ok(PreparedPlugin { pre })
}

/// The contract line a component was built against, from the versions its contract
/// imports name (a component importing none of them is checked against the newest).
fn served_line(engine: &Engine, component: &Component) -> anyhow::Result<Served> {
    let mut versions = std::collections::BTreeSet::new();
    for (name, _) in component.component_type().imports(engine) {
        if let Some((_, Some(v))) = Interface::parse_import(name) {
            versions.insert((v.major, v.minor));
        }
    }
    match versions.into_iter().collect::<Vec<_>>().as_slice() {
        [] => Ok(Served::V0_2),
        [(major, minor)] => Served::of(&semver::Version::new(*major, *minor, 0))
            .with_context(|| format!("the plugin imports contract {major}.{minor}, which this host does not serve")),
        several => anyhow::bail!(
            "the plugin imports from several contract versions ({}): a plugin is built against one",
            several.iter().map(|(a, b)| format!("{a}.{b}")).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// Prove, without running it, that a component links against the whole world of the
/// contract: each import is served at its version with its exact type, and `run` has
/// the contract's signature. Compiles with a checking engine of its own (results are
/// remembered per sha256 for the life of the process). Returns the linker's reason.
pub fn link_check(bytes: &[u8], sha256: &str) -> Result<(), String> {
    static CHECKER: OnceLock<Result<Engine, String>> = OnceLock::new();
    static CHECKED: OnceLock<Mutex<HashMap<String, Result<(), String>>>> = OnceLock::new();
    let checked = CHECKED.get_or_init(Default::default);
    if let Some(known) = checked.lock().unwrap_or_else(|p| p.into_inner()).get(sha256) {
        return known.clone();
    }
    let engine = CHECKER
        .get_or_init(|| {
            let mut config = Config::new();
            config.wasm_component_model(true).epoch_interruption(true);
            Engine::new(&config).map_err(|e| format!("cannot create the checking engine: {e}"))
        })
        .as_ref()
        .map_err(Clone::clone)?;
    let result = Component::new(engine, bytes).map_err(|e| format!("it does not compile: {}", anyhow::Error::from(e).root_cause())).and_then(|component| {
        link(engine, &component, ferry_manifest::Scope::ALL.into_iter().collect()).map(|_| ()).map_err(|e| {
            let chain: Vec<String> = e.chain().map(|c| c.to_string()).collect();
            chain.join(": ")
        })
    });
    checked.lock().unwrap_or_else(|p| p.into_inner()).insert(sha256.to_string(), result.clone());
    result
}

struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
    fn finish(&self) -> u64 {
        let digest = self.0.clone().finalize();
        u64::from_le_bytes(digest[..8].try_into().expect("8 bytes"))
    }
}

/// `&mut ResourceTable` as the data of the wasi io host functions.
struct IoTable;

impl wasmtime::component::HasData for IoTable {
    type Data<'a> = &'a mut ResourceTable;
}

/// The WASI a plugin gets: io, clocks, random, cli stdio/terminal/environment/exit.
/// No filesystem, sockets or http are ever linked.
fn add_wasi(linker: &mut Linker<RunState>) -> anyhow::Result<()> {
    use wasmtime_wasi::cli::{WasiCli, WasiCliView};
    use wasmtime_wasi::clocks::{WasiClocks, WasiClocksView};
    use wasmtime_wasi::p2::bindings::{cli, clocks, random};
    use wasmtime_wasi::random::WasiRandom;
    use wasmtime_wasi::WasiView;
    let l = linker;
    // The async io bindings: a plugin blocked in a poll or a blocking write is a pending
    // future, which the run's deadline timer can drop.
    use wasmtime_wasi_io::bindings::wasi::io;
    io::error::add_to_linker::<RunState, IoTable>(l, |t| t.ctx().table)?;
    io::poll::add_to_linker::<RunState, IoTable>(l, |t| t.ctx().table)?;
    io::streams::add_to_linker::<RunState, IoTable>(l, |t| t.ctx().table)?;
    clocks::wall_clock::add_to_linker::<RunState, WasiClocks>(l, RunState::clocks)?;
    clocks::monotonic_clock::add_to_linker::<RunState, WasiClocks>(l, RunState::clocks)?;
    random::random::add_to_linker::<RunState, WasiRandom>(l, |t| t.wasi.random())?;
    random::insecure::add_to_linker::<RunState, WasiRandom>(l, |t| t.wasi.random())?;
    random::insecure_seed::add_to_linker::<RunState, WasiRandom>(l, |t| t.wasi.random())?;
    cli::exit::add_to_linker::<RunState, WasiCli>(l, RunState::cli)?;
    cli::environment::add_to_linker::<RunState, WasiCli>(l, RunState::cli)?;
    cli::stdin::add_to_linker::<RunState, WasiCli>(l, RunState::cli)?;
    cli::stdout::add_to_linker::<RunState, WasiCli>(l, RunState::cli)?;
    cli::stderr::add_to_linker::<RunState, WasiCli>(l, RunState::cli)?;
    cli::terminal_input::add_to_linker::<RunState, WasiCli>(l, RunState::cli)?;
    cli::terminal_output::add_to_linker::<RunState, WasiCli>(l, RunState::cli)?;
    cli::terminal_stdin::add_to_linker::<RunState, WasiCli>(l, RunState::cli)?;
    cli::terminal_stdout::add_to_linker::<RunState, WasiCli>(l, RunState::cli)?;
    cli::terminal_stderr::add_to_linker::<RunState, WasiCli>(l, RunState::cli)?;
    Ok(())
}
