//! Reading an app component's structure before it runs: its imports, and whether an app that
//! imports the privileged storage interfaces is a sealed composition with our storage component.
//!
//! The composition check follows every top-level definition that adds to the component and
//! component-instance index spaces, because the privileged imports are instances and the thing
//! that may receive them is a component. Counting those spaces by hand is what went wrong
//! before (core modules were counted as components, so a core module placed before the storage
//! copy made the component after it look trusted). So the count is not trusted on its own: the
//! walk feeds every payload to wasmparser's validator too, and before each top-level section
//! compares its own counts with the validator's. Any disagreement, or anything the walk does not
//! understand, refuses the app: the check fails closed.

use std::collections::BTreeMap;

use wasmparser::{
    ComponentAlias, ComponentExternName, ComponentExternalKind, ComponentInstance, ComponentOuterAliasKind,
    ComponentTypeRef, Parser, Payload, Validator, WasmFeatures,
};

use super::PRIVILEGED;

/// Why an app that imports privileged interfaces is not accepted as a sealed composition.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The bytes are not a valid component.
    #[error("is not a valid component: {0}")]
    Invalid(String),
    /// A privileged import is a function, type or anything but an instance.
    #[error("imports `{0}` as something other than an instance")]
    NotAnInstance(String),
    /// No nested component is byte for byte this host's storage component.
    #[error("embeds no copy of this host's storage component")]
    NoStorageCopy,
    /// More than one nested component is this host's storage component.
    #[error("embeds {0} copies of this host's storage component; a composition has exactly one")]
    SeveralStorageCopies(usize),
    /// The storage copy is never instantiated.
    #[error("embeds this host's storage component but never instantiates it")]
    StorageNeverInstantiated,
    /// The storage copy is instantiated more than once.
    #[error("instantiates this host's storage component {0} times; a composition instantiates it once")]
    StorageInstantiatedTwice(u32),
    /// A privileged instance is passed to an instance of some other component.
    #[error("hands `{name}` to component {component}, which is not this host's storage component")]
    HandedToOther {
        /// The privileged import.
        name: String,
        /// The component index (top level) that would receive it.
        component: u32,
    },
    /// A privileged instance is re-exported, aliased into, or bundled into another instance.
    #[error("{how} `{name}`, which only the storage component may use")]
    Leaked {
        /// The privileged import.
        name: String,
        /// What the composition does with it ("re-exports", "aliases an export of", "bundles").
        how: &'static str,
    },
    /// A privileged import is never handed to the storage copy.
    #[error("imports `{0}` but does not hand it to the storage component")]
    NotHandedToStorage(String),
    /// The walk's own count of an index space differs from the validator's: a construct the
    /// check does not understand.
    #[error("uses a construct this host cannot follow ({0} index space)")]
    NotUnderstood(&'static str),
}

/// The names of a component's top-level imports.
pub fn top_level_imports(wasm: &[u8]) -> anyhow::Result<Vec<String>> {
    if !Parser::is_component(wasm) {
        anyhow::bail!("not a component (a core module or other bytes)");
    }
    let mut names = Vec::new();
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(wasm) {
        match payload? {
            Payload::Version { .. } => depth += 1,
            Payload::End(_) => depth -= 1,
            Payload::ComponentImportSection(section) if depth == 1 => {
                for import in section {
                    names.push(import?.name.name.to_owned());
                }
            }
            _ => {}
        }
    }
    Ok(names)
}

/// The privileged interface an import name stands for, if any (`zero:storage/backend@0.1.0`
/// and an import that says it implements that interface are both `backend`).
fn privileged_interface(name: &ComponentExternName<'_>) -> Option<&'static str> {
    let interface = |name: &str| name.split('@').next().unwrap_or(name).to_owned();
    let names = [Some(name.name), name.implements].into_iter().flatten().map(interface).collect::<Vec<_>>();
    PRIVILEGED.iter().copied().find(|p| names.iter().any(|n| n == p))
}

/// The top-level index spaces the check follows.
#[derive(Debug, Default)]
struct Spaces {
    components: u32,
    instances: u32,
}

impl Spaces {
    fn add(&mut self, kind: ComponentExternalKind) {
        match kind {
            ComponentExternalKind::Component => self.components += 1,
            ComponentExternalKind::Instance => self.instances += 1,
            _ => {}
        }
    }

    fn add_import(&mut self, ty: &ComponentTypeRef) {
        match ty {
            ComponentTypeRef::Component(_) => self.components += 1,
            ComponentTypeRef::Instance(_) => self.instances += 1,
            _ => {}
        }
    }

    /// Fails unless the validator, which has seen the same payloads, counts the same.
    fn agree_with(&self, validator: &Validator) -> Result<(), Refusal> {
        let types = validator.types(0).ok_or(Refusal::NotUnderstood("component"))?;
        if types.component_count() != self.components {
            return Err(Refusal::NotUnderstood("component"));
        }
        if types.component_instance_count() != self.instances {
            return Err(Refusal::NotUnderstood("component instance"));
        }
        Ok(())
    }
}

/// Checks that `wasm` embeds `storage` byte for byte exactly once, instantiates it exactly once,
/// and hands its privileged imports (`backend`, `identity`, `admin`) to that instance and to
/// nothing else: not to another component's instance, not re-exported, not aliased, not bundled
/// into an instance of exports.
pub fn check_sealed_composition(wasm: &[u8], storage: &[u8]) -> Result<(), Refusal> {
    if !Parser::is_component(wasm) {
        return Err(Refusal::Invalid("a core module or other bytes, not a component".into()));
    }
    let invalid = |error: wasmparser::BinaryReaderError| Refusal::Invalid(error.message().to_owned());
    let mut validator = Validator::new_with_features(WasmFeatures::all());
    let mut spaces = Spaces::default();
    let mut privileged: BTreeMap<u32, &'static str> = BTreeMap::new(); // instance index → interface
    let mut storage_copies = Vec::new(); // component indices
    let mut storage_instantiations = 0u32;
    let mut handed_to_storage: Vec<&'static str> = Vec::new();
    let mut depth = 0usize;

    for payload in Parser::new(0).parse_all(wasm) {
        let payload = payload.map_err(invalid)?;
        if let Payload::Version { .. } = payload {
            depth += 1; // a nested module or component begins (or the top level)
        } else if depth == 1 {
            spaces.agree_with(&validator)?;
            match &payload {
                Payload::ComponentSection { unchecked_range, .. } => {
                    // The range lies inside `wasm`, which is in memory: it fits in usize.
                    let (start, end) = (unchecked_range.start as usize, unchecked_range.end as usize);
                    if wasm.get(start..end) == Some(storage) {
                        storage_copies.push(spaces.components);
                    }
                    spaces.components += 1;
                }
                Payload::ComponentImportSection(section) => {
                    for import in section.clone() {
                        let import = import.map_err(invalid)?;
                        if let Some(interface) = privileged_interface(&import.name) {
                            if !matches!(import.ty, ComponentTypeRef::Instance(_)) {
                                return Err(Refusal::NotAnInstance(import.name.name.to_owned()));
                            }
                            privileged.insert(spaces.instances, interface);
                        }
                        spaces.add_import(&import.ty);
                    }
                }
                Payload::ComponentInstanceSection(section) => {
                    for instance in section.clone() {
                        match instance.map_err(invalid)? {
                            ComponentInstance::Instantiate { component_index, args } => {
                                let is_storage = storage_copies.contains(&component_index);
                                if is_storage {
                                    storage_instantiations += 1;
                                }
                                for arg in args.iter().filter(|arg| arg.kind == ComponentExternalKind::Instance) {
                                    if let Some(&name) = privileged.get(&arg.index) {
                                        if !is_storage {
                                            return Err(Refusal::HandedToOther {
                                                name: name.to_owned(),
                                                component: component_index,
                                            });
                                        }
                                        handed_to_storage.push(name);
                                    }
                                }
                            }
                            ComponentInstance::FromExports(exports) => {
                                let leaked = exports.iter().filter(|e| e.kind == ComponentExternalKind::Instance);
                                if let Some(&name) = leaked.filter_map(|e| privileged.get(&e.index)).next() {
                                    return Err(Refusal::Leaked { name: name.to_owned(), how: "bundles" });
                                }
                            }
                        }
                        spaces.instances += 1;
                    }
                }
                Payload::ComponentAliasSection(section) => {
                    for alias in section.clone() {
                        match alias.map_err(invalid)? {
                            ComponentAlias::InstanceExport { kind, instance_index, .. } => {
                                if let Some(&name) = privileged.get(&instance_index) {
                                    return Err(Refusal::Leaked { name: name.to_owned(), how: "aliases an export of" });
                                }
                                spaces.add(kind);
                            }
                            ComponentAlias::Outer { kind: ComponentOuterAliasKind::Component, .. } => {
                                spaces.components += 1;
                            }
                            ComponentAlias::Outer { .. } | ComponentAlias::CoreInstanceExport { .. } => {}
                        }
                    }
                }
                Payload::ComponentExportSection(section) => {
                    for export in section.clone() {
                        let export = export.map_err(invalid)?;
                        if export.kind == ComponentExternalKind::Instance
                            && let Some(&name) = privileged.get(&export.index)
                        {
                            return Err(Refusal::Leaked { name: name.to_owned(), how: "re-exports" });
                        }
                        spaces.add(export.kind);
                    }
                }
                _ => {}
            }
        }
        // Function bodies are left to wasmtime, which validates them when it compiles the app.
        validator.payload(&payload).map_err(invalid)?;
        if let Payload::End(_) = payload {
            depth -= 1;
        }
    }

    if privileged.is_empty() {
        return Ok(());
    }
    match storage_copies.len() {
        0 => return Err(Refusal::NoStorageCopy),
        1 => {}
        many => return Err(Refusal::SeveralStorageCopies(many)),
    }
    match storage_instantiations {
        0 => return Err(Refusal::StorageNeverInstantiated),
        1 => {}
        many => return Err(Refusal::StorageInstantiatedTwice(many)),
    }
    if let Some(&name) = privileged.values().find(|name| !handed_to_storage.contains(name)) {
        return Err(Refusal::NotHandedToStorage(name.to_owned()));
    }
    Ok(())
}
