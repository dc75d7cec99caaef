//! Crafted compositions: components that embed the host's storage component and may hand its
//! privileged imports (`backend`, `identity`) to something else, for `tests/compositions.rs`
//! and the `composition` fuzz target (which includes this file by path, so it uses no other
//! module of this crate).
//!
//! [`craft`] applies a list of [`Op`]s to a genuine composition and, as it goes, keeps its own
//! model of what each new index refers to. From that model it knows whether the result leaks
//! a privileged instance; [`check`] then asserts that the host's check accepts exactly the
//! valid compositions that do not.

use std::ops::Range;

use wasm_encoder::{
    Alias, ComponentAliasSection, ComponentExportKind, ComponentExportSection, ComponentImportSection,
    ComponentInstanceSection, ComponentSectionId, ComponentTypeRef, ComponentTypeSection, Encode, InstanceType,
    RawSection,
};
use wasmparser::{ComponentExternalKind, ComponentInstance, Parser, Payload, Validator, WasmFeatures};
use zero_storage::STORAGE_COMPONENT;
use zero_storage::{AppShape, classify, compose};

/// The backend import's name.
pub const BACKEND: &str = "zero:storage/backend@0.1.0";
/// The identity import's name.
pub const IDENTITY: &str = "zero:storage/identity@0.1.0";

/// One top-level section: its id and its contents.
#[derive(Debug, Clone)]
pub struct Section {
    /// The section id (component binary format).
    pub id: u8,
    /// The section's contents, without id and length.
    pub data: Vec<u8>,
}

/// The top-level sections of `wasm`, with where each one's contents lie.
pub fn top_level_sections(wasm: &[u8]) -> Vec<(Section, Range<usize>)> {
    let mut depth = 0;
    let mut sections = Vec::new();
    for payload in Parser::new(0).parse_all(wasm) {
        let payload = payload.expect("a component the tests built");
        match payload {
            Payload::Version { .. } => depth += 1,
            Payload::End(_) => depth -= 1,
            _ if depth == 1 => {
                let (id, range) = payload.as_section().expect("a top-level payload is a section");
                let range = range.start as usize..range.end as usize;
                sections.push((Section { id, data: wasm[range.clone()].to_vec() }, range));
            }
            _ => {}
        }
    }
    sections
}

/// A component made of `sections`, in order.
pub fn assemble(sections: &[Section]) -> Vec<u8> {
    let mut component = wasm_encoder::Component::new();
    for section in sections {
        component.section(&RawSection { id: section.id, data: &section.data });
    }
    component.finish()
}

/// An encoded section as a raw one.
pub fn raw(id: ComponentSectionId, section: &impl Encode) -> Section {
    let mut data = Vec::new();
    section.encode(&mut data);
    // Encoded sections start with their length; a raw section holds the contents alone.
    let len = wasmparser::BinaryReader::new(&data, 0).read_var_u32().expect("a length prefix") as usize;
    Section { id: id as u8, data: data[data.len() - len..].to_vec() }
}

/// A nested component section holding `bytes`.
pub fn nested_component(bytes: &[u8]) -> Section {
    Section { id: ComponentSectionId::Component as u8, data: bytes.to_vec() }
}

/// A byte-identical copy of the host's storage component.
pub fn storage_copy() -> Section {
    nested_component(STORAGE_COMPONENT)
}

/// An empty core module.
pub fn core_module() -> Section {
    Section { id: ComponentSectionId::CoreModule as u8, data: wasm_encoder::Module::new().finish() }
}

/// A component whose only import is `name`, as an instance it asks nothing of.
fn importer_of(name: &str) -> Vec<u8> {
    let mut types = ComponentTypeSection::new();
    types.instance(&InstanceType::new());
    let mut imports = ComponentImportSection::new();
    imports.import(name, ComponentTypeRef::Instance(0));
    let mut component = wasm_encoder::Component::new();
    component.section(&types).section(&imports);
    component.finish()
}

/// The impostor: a component that imports the backend, and would get raw access to it if the
/// host's check were fooled.
pub fn impostor() -> Section {
    nested_component(&importer_of(BACKEND))
}

/// The smallest app: it imports `zero:storage/store` and does nothing with it.
pub fn minimal_app() -> Vec<u8> {
    importer_of("zero:storage/store@0.1.0")
}

/// An instance section instantiating `component` with the instance `backend` as its backend.
pub fn instantiate_with_backend(component: u32, backend: u32) -> Section {
    let mut instances = ComponentInstanceSection::new();
    instances.instantiate(component, [(BACKEND, ComponentExportKind::Instance, backend)]);
    raw(ComponentSectionId::Instance, &instances)
}

/// The instance index of the top-level import `name`, read with the validator's counts.
fn import_index(wasm: &[u8], name: &str) -> u32 {
    let mut validator = Validator::new_with_features(WasmFeatures::all());
    let mut depth = 0;
    for payload in Parser::new(0).parse_all(wasm) {
        let payload = payload.unwrap();
        if let Payload::Version { .. } = payload {
            depth += 1;
        }
        if depth == 1
            && let Payload::ComponentImportSection(section) = &payload
        {
            let mut index = validator.types(0).unwrap().component_instance_count();
            for import in section.clone() {
                let import = import.unwrap();
                if import.name.name == name {
                    return index;
                }
                if matches!(import.ty, wasmparser::ComponentTypeRef::Instance(_)) {
                    index += 1;
                }
            }
        }
        validator.payload(&payload).unwrap();
        if let Payload::End(_) = payload {
            depth -= 1;
        }
    }
    panic!("no import {name}")
}

fn kind_of(kind: ComponentExternalKind) -> ComponentExportKind {
    match kind {
        ComponentExternalKind::Module => ComponentExportKind::Module,
        ComponentExternalKind::Func => ComponentExportKind::Func,
        ComponentExternalKind::Value => ComponentExportKind::Value,
        ComponentExternalKind::Type => ComponentExportKind::Type,
        ComponentExternalKind::Instance => ComponentExportKind::Instance,
        ComponentExternalKind::Component => ComponentExportKind::Component,
    }
}

/// A genuine composition (`zero_storage::compose` of an app), taken apart.
pub struct Genuine {
    /// Its bytes.
    pub wasm: Vec<u8>,
    /// Its top-level sections.
    pub sections: Vec<Section>,
    /// The instance indices of the backend and identity imports.
    pub backend: u32,
    /// See `backend`.
    pub identity: u32,
    /// How many components and component instances it defines at its top level.
    pub components: u32,
    /// See `components`.
    pub instances: u32,
    /// How many instances the sections before its first nested component define.
    pub prefix_instances: u32,
    /// Where its first nested component (the storage copy) sits among `sections`.
    pub first_component: usize,
    /// The arguments it instantiates the storage copy with.
    pub storage_args: Vec<(String, ComponentExportKind, u32)>,
}

impl Genuine {
    /// The composition of `app` with the host's storage component.
    pub fn of(app: &[u8]) -> Genuine {
        let wasm = compose(app).expect("a plain app composes");
        let top = top_level_sections(&wasm);
        let first_component =
            top.iter().position(|(s, _)| s.id == ComponentSectionId::Component as u8).expect("a nested component");
        let mut storage_args = None;
        for (section, range) in &top {
            if section.id != ComponentSectionId::Instance as u8 {
                continue;
            }
            let reader = wasmparser::BinaryReader::new(&wasm[range.clone()], 0);
            for instance in wasmparser::ComponentInstanceSectionReader::new(reader).unwrap() {
                if let ComponentInstance::Instantiate { component_index: 0, args } = instance.unwrap() {
                    let args = args.iter().map(|a| (a.name.to_owned(), kind_of(a.kind), a.index)).collect();
                    storage_args = Some(args);
                }
            }
        }
        let sections: Vec<Section> = top.into_iter().map(|(section, _)| section).collect();
        let counts = |wasm: &[u8]| {
            let types = Validator::new_with_features(WasmFeatures::all()).validate_all(wasm).expect("valid");
            (types.component_count() as u32, types.component_instance_count() as u32)
        };
        let (components, instances) = counts(&wasm);
        let (_, prefix_instances) = counts(&assemble(&sections[..first_component]));
        Genuine {
            backend: import_index(&wasm, BACKEND),
            identity: import_index(&wasm, IDENTITY),
            components,
            instances,
            prefix_instances,
            first_component,
            storage_args: storage_args.expect("the composition instantiates its storage copy"),
            sections,
            wasm,
        }
    }

    /// The sections before the first nested component: types and imports.
    pub fn prefix(&self) -> &[Section] {
        &self.sections[..self.first_component]
    }
}

/// What the crafted sections are added to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Base {
    /// The whole genuine composition (its storage copy instantiated once with the privileged
    /// imports, and its app).
    Whole,
    /// Only its types and imports.
    Prefix,
}

/// One crafted section, added after the base.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// An empty core module.
    CoreModule,
    /// A copy of the storage component.
    StorageCopy,
    /// The impostor (see [`impostor`]).
    Impostor,
    /// Instantiates component `component` (modulo the count so far): a storage copy with the
    /// storage's own arguments, anything else with a privileged import (`privileged` even:
    /// backend, odd: identity) as its backend.
    Instantiate {
        /// Which component.
        component: u8,
        /// Which privileged import.
        privileged: u8,
    },
    /// Exports an instance (see [`Op::instance`] for which).
    Export {
        /// Which instance.
        instance: u8,
    },
    /// Aliases the function `read` of an instance.
    Alias {
        /// Which instance.
        instance: u8,
    },
    /// Bundles an instance into a new instance of exports.
    Bundle {
        /// Which instance.
        instance: u8,
    },
}

/// What the model says about a crafted composition.
pub struct Crafted {
    /// Its bytes.
    pub wasm: Vec<u8>,
    /// Whether anything but an instance of a storage copy receives a privileged instance, or a
    /// privileged instance is exported, aliased or bundled.
    pub leaks: bool,
    /// How many copies of the storage component it embeds.
    pub storage_copies: usize,
    /// How many times it instantiates one.
    pub storage_instantiations: usize,
}

/// What a component index refers to, in the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Storage,
    Other,
}

/// The instance an op names: 0 is the backend import, 1 identity, anything else one of the
/// instances defined so far.
fn instance_of(genuine: &Genuine, choice: u8, instances: u32) -> u32 {
    match choice {
        0 => genuine.backend,
        1 => genuine.identity,
        n => u32::from(n - 2) % instances.max(1),
    }
}

/// Adds `ops` to `base` of `genuine`, keeping the model as it goes.
pub fn craft(genuine: &Genuine, base: Base, ops: &[Op]) -> Crafted {
    let (mut sections, mut components, mut instances, mut storage_instantiations) = match base {
        Base::Whole => (genuine.sections.clone(), vec![Kind::Storage, Kind::Other], genuine.instances, 1),
        Base::Prefix => (genuine.prefix().to_vec(), Vec::new(), genuine.prefix_instances, 0),
    };
    assert_eq!(components.len() as u32, if base == Base::Whole { genuine.components } else { 0 });
    let privileged = [genuine.backend, genuine.identity];
    let mut leaks = false;
    for (n, op) in ops.iter().enumerate() {
        match *op {
            Op::CoreModule => sections.push(core_module()),
            Op::StorageCopy => {
                sections.push(storage_copy());
                components.push(Kind::Storage);
            }
            Op::Impostor => {
                sections.push(impostor());
                components.push(Kind::Other);
            }
            Op::Instantiate { component, privileged: which } => {
                let index = u32::from(component) % (components.len() as u32).max(1);
                let mut section = ComponentInstanceSection::new();
                if components.get(index as usize) == Some(&Kind::Storage) {
                    let args = genuine.storage_args.iter().map(|(name, kind, i)| (name.as_str(), *kind, *i));
                    section.instantiate(index, args);
                    storage_instantiations += 1;
                } else {
                    let arg = privileged[usize::from(which % 2)];
                    section.instantiate(index, [(BACKEND, ComponentExportKind::Instance, arg)]);
                    leaks = true;
                }
                sections.push(raw(ComponentSectionId::Instance, &section));
                instances += 1;
            }
            Op::Export { instance } => {
                let index = instance_of(genuine, instance, instances);
                let mut section = ComponentExportSection::new();
                section.export(format!("leak{n}"), ComponentExportKind::Instance, index, None);
                sections.push(raw(ComponentSectionId::Export, &section));
                leaks |= privileged.contains(&index);
                instances += 1;
            }
            Op::Alias { instance } => {
                let index = instance_of(genuine, instance, instances);
                let mut section = ComponentAliasSection::new();
                section.alias(Alias::InstanceExport { instance: index, kind: ComponentExportKind::Func, name: "read" });
                sections.push(raw(ComponentSectionId::Alias, &section));
                leaks |= privileged.contains(&index);
            }
            Op::Bundle { instance } => {
                let index = instance_of(genuine, instance, instances);
                let mut section = ComponentInstanceSection::new();
                section.export_items([(format!("x{n}").as_str(), ComponentExportKind::Instance, index)]);
                sections.push(raw(ComponentSectionId::Instance, &section));
                leaks |= privileged.contains(&index);
                instances += 1;
            }
        }
    }
    let storage_copies = components.iter().filter(|kind| **kind == Kind::Storage).count();
    Crafted { wasm: assemble(&sections), leaks, storage_copies, storage_instantiations }
}

/// Reads a base and ops from arbitrary bytes (two bytes an op), as the fuzz target gets them.
pub fn decode(bytes: &[u8]) -> (Base, Vec<Op>) {
    let base = if bytes.first().is_some_and(|b| b % 2 == 1) { Base::Prefix } else { Base::Whole };
    let ops = bytes
        .get(1..)
        .unwrap_or_default()
        .chunks_exact(2)
        .take(16)
        .map(|pair| match pair[0] % 7 {
            0 => Op::CoreModule,
            1 => Op::StorageCopy,
            2 => Op::Impostor,
            3 => Op::Instantiate { component: pair[1] >> 1, privileged: pair[1] & 1 },
            4 => Op::Export { instance: pair[1] },
            5 => Op::Alias { instance: pair[1] },
            _ => Op::Bundle { instance: pair[1] },
        })
        .collect();
    (base, ops)
}

/// The property: the host accepts a crafted composition as sealed if and only if it is valid,
/// leaks nothing, and embeds one storage copy instantiated once.
pub fn check(genuine: &Genuine, base: Base, ops: &[Op]) {
    let crafted = craft(genuine, base, ops);
    let valid = Validator::new_with_features(WasmFeatures::all()).validate_all(&crafted.wasm).is_ok();
    let verdict = classify(&crafted.wasm);
    let accepted = matches!(verdict, Ok(AppShape::Composed));
    let sealed = valid && !crafted.leaks && crafted.storage_copies == 1 && crafted.storage_instantiations == 1;
    assert!(!accepted || valid, "accepted an invalid component: {base:?} {ops:?}");
    assert!(!accepted || !crafted.leaks, "accepted a composition that leaks a privileged instance: {base:?} {ops:?}");
    assert!(!accepted || sealed, "accepted a composition that is not sealed: {base:?} {ops:?}");
    assert!(!sealed || accepted, "refused a sealed composition: {base:?} {ops:?}: {verdict:?}");
}
