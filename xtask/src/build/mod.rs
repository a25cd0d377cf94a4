//! Building components: which route (the cross-build `container` whenever
//! an engine answers, else the host toolchain, `local`), the flags every
//! route shares (path remapping, version stamp), and where binaries land
//! (`_output/dockerized/bin/OS/ARCH` or `_output/local/bin/OS/ARCH`,
//! `_output/bin`).

pub mod container;
pub mod environment;
mod inputs;
mod local;
pub mod vendor;

use std::cell::OnceCell;

use anyhow::{Context, Result};
use cargo_metadata::camino::{Utf8Path, Utf8PathBuf};

pub use self::environment::BuildEnvironment;
use crate::components::Component;
use crate::image::{BuildImage, ImagePolicy};
use crate::platform::Platform;
use crate::version::Stamp;
use crate::workspace::Workspace;

/// Fixed paths that host paths are remapped to in everything the compiler
/// writes (panic locations, debug info), so two checkouts at different paths
/// build the same bytes. They are the cross-build container's real paths.
pub const WORKSPACE_PATH: &str = "/workspace";
pub const CARGO_HOME_PATH: &str = "/cargo";
pub const TARGET_PATH: &str = "/target";

/// The binaries of one platform, after a build.
#[derive(Debug, Clone)]
pub struct Built {
    pub platform: Platform,
    pub bin_dir: Utf8PathBuf,
    /// (component, binary file name), sorted.
    pub binaries: Vec<(String, String)>,
}

impl Built {
    pub fn path(&self, binary: &str) -> Utf8PathBuf {
        self.bin_dir.join(binary)
    }
}

/// What a build made, and what it ran with.
#[derive(Debug, Clone)]
pub struct Build {
    pub built: Vec<Built>,
    pub environment: BuildEnvironment,
}

/// Where components are compiled.
pub enum Route {
    /// The host toolchain (`--local`, or no engine).
    Local,
    /// The cross-build container, through this engine.
    Container(Box<ContainerRoute>),
}

/// The container route's engine, settings, and the build image once known.
pub struct ContainerRoute {
    pub engine: crate::docker::Engine,
    pub verbosity: container::Verbosity,
    pub image_policy: ImagePolicy,
    image: OnceCell<BuildImage>,
}

impl ContainerRoute {
    /// The build image: made sure of once per run (`image::ensure`).
    pub fn image(&self, ws: &Workspace) -> Result<&BuildImage> {
        if let Some(image) = self.image.get() {
            return Ok(image);
        }
        let image = crate::image::ensure(&self.engine, ws, &self.image_policy)?;
        Ok(self.image.get_or_init(|| image))
    }
}

impl Route {
    /// The container whenever an engine answers; `--local` forces the host.
    /// Without an engine: an error when DOCKER_HOST names one (the user asked
    /// for it), else the host route with a visible warning.
    pub fn choose(force_local: bool, verbose: bool, image_policy: ImagePolicy) -> Result<Route> {
        if force_local {
            return Ok(Route::Local);
        }
        match crate::docker::Engine::connect() {
            Ok(engine) => Ok(Route::Container(Box::new(ContainerRoute {
                engine,
                verbosity: container::Verbosity { verbose },
                image_policy,
                image: OnceCell::new(),
            }))),
            Err(no_engine) if no_engine.from_env => Err(no_engine.into()),
            Err(no_engine) => {
                crate::progress::log(format!(
                    "warning: {no_engine}\nwarning: building with this machine's toolchain instead \
                     (not hermetic, host platform only; pass --local to say so and silence this)"
                ));
                Ok(Route::Local)
            }
        }
    }

    /// Platforms built when none are requested: server components ship for
    /// every supported platform, which only the container can build.
    pub fn default_platforms(&self) -> Result<Vec<Platform>> {
        match self {
            Route::Local => Ok(vec![Platform::host()?]),
            Route::Container(_) => Ok(crate::platform::SUPPORTED.to_vec()),
        }
    }

    /// What compiles on this route, as one string for input digests: the
    /// build image's ID, or the host's `rustc --version`.
    pub fn toolchain_id(&self, ws: &Workspace) -> Result<String> {
        match self {
            Route::Local => {
                let sh = xshell::Shell::new()?;
                Ok(xshell::cmd!(sh, "rustc --version")
                    .quiet()
                    .read()
                    .context("rustc --version")?)
            }
            Route::Container(route) => Ok(route.image(ws)?.id.clone()),
        }
    }

    /// Whether only the pinned build image is accepted.
    pub fn strict_image(&self) -> bool {
        match self {
            Route::Local => false,
            Route::Container(route) => route.image_policy.strict,
        }
    }

    /// Makes sure the route can build: for the container, the build image.
    pub fn prepare(&self, ws: &Workspace) -> Result<()> {
        match self {
            Route::Local => Ok(()),
            Route::Container(route) => route.image(ws).map(|_| ()),
        }
    }

    /// The release's component tests (`make test`), on this route.
    pub fn component_tests(&self, ws: &Workspace) -> Result<()> {
        match self {
            Route::Local => crate::test_suite::component_tests(ws),
            Route::Container(route) => {
                container::test(&route.engine, ws, route.image(ws)?, route.verbosity)
            }
        }
    }
}

/// Builds `components` for each platform; returns what was built where and
/// what it was built with (printed in one line).
pub fn build(
    ws: &Workspace,
    stamp: &Stamp,
    components: &[Component],
    platforms: &[Platform],
    route: &Route,
) -> Result<Build> {
    let build = match route {
        Route::Local => {
            let mut built = Vec::new();
            for platform in platforms {
                built.push(local::build(ws, stamp, components, *platform)?);
            }
            let sh = xshell::Shell::new()?;
            let rustc = xshell::cmd!(sh, "rustc --version")
                .quiet()
                .read()
                .context("rustc --version")?;
            Build {
                built,
                environment: BuildEnvironment::Local { rustc },
            }
        }
        Route::Container(route) => container::build(
            &route.engine,
            ws,
            route.image(ws)?,
            stamp,
            components,
            platforms,
            route.verbosity,
        )?,
    };
    crate::progress::log(build.environment.summary());
    if let Some(host) = build
        .built
        .iter()
        .find(|b| Platform::host().ok() == Some(b.platform))
    {
        point_output_bin_at(ws, &host.bin_dir)?;
    }
    Ok(build)
}

/// `_output/bin` → the host platform's bin dir of the last build.
fn point_output_bin_at(ws: &Workspace, bin_dir: &Utf8Path) -> Result<()> {
    let output = ws.output();
    let relative = bin_dir.strip_prefix(&output).unwrap_or(bin_dir);
    crate::atomic::replace_symlink(relative.as_std_path(), output.join("bin").as_std_path())
}

/// `SOURCE_DATE_EPOCH` as the compilers see it (C code in dependencies may
/// stamp `__DATE__` with it): the build image definition's epoch (its
/// package snapshot time), which changes when the toolchain does, so a
/// commit does not rebuild every crate with C code. The release's own date
/// is the stamp's (`KUBE_BUILD_DATE`).
pub fn compiler_epoch(ws: &Workspace, stamp: &Stamp) -> u64 {
    crate::image::definition::Definition::read(ws)
        .map(|definition| definition.snapshot.epoch)
        .unwrap_or(stamp.source_date_epoch)
}

/// The rustc flags of a release build: path remapping for the workspace,
/// cargo's home, the target dir (generated code) and the vendored crates.
/// Later prefixes win in rustc, so the directories often inside the
/// workspace (target, vendor) come last.
pub fn remap_rustflags(
    workspace: &Utf8Path,
    cargo_home: &Utf8Path,
    target_dir: &Utf8Path,
    vendor_dir: &Utf8Path,
) -> Vec<String> {
    vec![
        format!("--remap-path-prefix={workspace}={WORKSPACE_PATH}"),
        format!("--remap-path-prefix={cargo_home}={CARGO_HOME_PATH}"),
        format!("--remap-path-prefix={target_dir}={TARGET_PATH}"),
        format!("--remap-path-prefix={vendor_dir}={}", vendor::VENDOR_PATH),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_dir_remap_comes_last() {
        let flags = remap_rustflags(
            "/src/k".into(),
            "/root/.cargo".into(),
            "/src/k/target".into(),
            "/src/k/vendor".into(),
        );
        assert_eq!(
            flags,
            [
                "--remap-path-prefix=/src/k=/workspace",
                "--remap-path-prefix=/root/.cargo=/cargo",
                "--remap-path-prefix=/src/k/target=/target",
                "--remap-path-prefix=/src/k/vendor=/cargo/vendor",
            ]
        );
    }
}
