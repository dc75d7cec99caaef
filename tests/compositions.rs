//! Crafted compositions: components that embed this host's storage component and try to hand
//! its privileged imports (`backend`, `identity`) to something else. Each is built here from a
//! genuine composition's sections plus a few crafted ones, and each must be refused before it
//! runs, with a message that says what is wrong. Genuine compositions are still accepted.

use std::ops::Range;
use std::sync::Arc;

use wasm_encoder::{
    Alias, ComponentExportKind, ComponentExportSection, ComponentImportSection, ComponentInstanceSection,
    ComponentSectionId, ComponentTypeRef, ComponentTypeSection, InstanceType, RawSection,
};
use wasmparser::{ComponentInstance, Parser, Payload, Validator, WasmFeatures};
use zero_storage::app::{AppShape, classify, compose};
use zero_storage::backend::{Backend, MemoryBackend};
use zero_storage::runtime::STORAGE_COMPONENT;
use zero_storage::{Config, ProcessIdentity};
use zero_storage_tests::{guest_bytes, runtime_with};

const BACKEND: &str = "zero:storage/backend@0.1.0";
const IDENTITY: &str = "zero:storage/identity@0.1.0";

/// One top-level section: its id and its contents.
#[derive(Clone)]
struct Section {
    id: u8,
    data: Vec<u8>,
}

/// A genuine composition of the `store-tour` guest, taken apart.
struct Genuine {
    sections: Vec<Section>,
    /// Where the backend and identity imports sit in the component-instance index space.
    backend: u32,
    identity: u32,
    components: u32,
}

fn top_level_sections(wasm: &[u8]) -> Vec<(Section, Range<usize>)> {
    let mut depth = 0;
    let mut sections = Vec::new();
    for payload in Parser::new(0).parse_all(wasm) {
        let payload = payload.unwrap();
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

fn genuine() -> (Vec<u8>, Genuine) {
    let wasm = compose(&guest_bytes("store-tour")).unwrap();
    let types = Validator::new_with_features(WasmFeatures::all()).validate_all(&wasm).unwrap();
    let genuine = Genuine {
        sections: top_level_sections(&wasm).into_iter().map(|(section, _)| section).collect(),
        backend: import_index(&wasm, BACKEND),
        identity: import_index(&wasm, IDENTITY),
        components: u32::try_from(types.component_count()).unwrap(),
    };
    (wasm, genuine)
}

fn assemble(sections: &[Section]) -> Vec<u8> {
    let mut component = wasm_encoder::Component::new();
    for section in sections {
        component.section(&RawSection { id: section.id, data: &section.data });
    }
    component.finish()
}

fn raw(id: ComponentSectionId, section: &impl wasm_encoder::Encode) -> Section {
    let mut data = Vec::new();
    section.encode(&mut data);
    // Encoded sections start with their length; a raw section wants the contents alone.
    let mut reader = wasmparser::BinaryReader::new(&data, 0);
    let len = reader.read_var_u32().unwrap() as usize;
    Section { id: id as u8, data: data[data.len() - len..].to_vec() }
}

fn nested_component(bytes: &[u8]) -> Section {
    Section { id: ComponentSectionId::Component as u8, data: bytes.to_vec() }
}

fn storage_copy() -> Section {
    nested_component(STORAGE_COMPONENT)
}

/// A component that imports the backend (as an instance it asks nothing of): the impostor that
/// would get raw access if the check were fooled.
fn impostor() -> Section {
    let mut types = ComponentTypeSection::new();
    types.instance(&InstanceType::new());
    let mut imports = ComponentImportSection::new();
    imports.import(BACKEND, ComponentTypeRef::Instance(0));
    let mut component = wasm_encoder::Component::new();
    component.section(&types).section(&imports);
    nested_component(&component.finish())
}

/// An instance section instantiating `component` with the backend instance `backend`.
fn instantiate_with_backend(component: u32, backend: u32) -> Section {
    let mut instances = ComponentInstanceSection::new();
    instances.instantiate(component, [(BACKEND, ComponentExportKind::Instance, backend)]);
    raw(ComponentSectionId::Instance, &instances)
}

/// Checks that `wasm` is a valid component (so the refusal is the check's, not the
/// validator's), then that `classify` refuses it saying `expected`.
fn assert_refused(wasm: &[u8], expected: &str) {
    Validator::new_with_features(WasmFeatures::all()).validate_all(wasm).expect("the crafted component must be valid");
    let error = classify(wasm).expect_err("a crafted composition must be refused").to_string();
    assert!(error.contains(expected), "expected `{expected}` in: {error}");
    assert!(error.contains("only the storage component may use"), "{error}");
}

fn prefix(genuine: &Genuine) -> Vec<Section> {
    let first_component = genuine.sections.iter().position(|s| s.id == ComponentSectionId::Component as u8).unwrap();
    genuine.sections[..first_component].to_vec()
}

#[test]
fn genuine_compositions_of_every_kind_of_app_are_accepted() {
    for guest in ["store-tour", "kv-draft", "kv-draft2", "notes"] {
        let composed = compose(&guest_bytes(guest)).unwrap();
        assert_eq!(classify(&composed).unwrap(), AppShape::Composed, "{guest}");
        // The same bytes taken apart and put back together are still the same composition.
        let sections: Vec<Section> = top_level_sections(&composed).into_iter().map(|(s, _)| s).collect();
        assert_eq!(assemble(&sections), composed, "{guest}");
    }
}

#[test]
fn a_core_module_before_the_storage_copy_does_not_make_the_next_component_trusted() {
    // The shape that fooled the old check: the storage copy is never instantiated, and the
    // component after it (index 1) gets the backend. Counting the core module as a component
    // made index 1 look like the storage copy.
    let (_, genuine) = genuine();
    let core_module = Section { id: ComponentSectionId::CoreModule as u8, data: wasm_encoder::Module::new().finish() };
    let mut sections = prefix(&genuine);
    sections.extend([core_module, storage_copy(), impostor(), instantiate_with_backend(1, genuine.backend)]);
    assert_refused(&assemble(&sections), "hands `zero:storage/backend` to component 1");
}

#[test]
fn an_impostor_after_a_genuine_storage_copy_is_refused() {
    let (_, genuine) = genuine();
    let mut sections = genuine.sections.clone();
    sections.extend([impostor(), instantiate_with_backend(genuine.components, genuine.backend)]);
    assert_refused(
        &assemble(&sections),
        &format!(
            "hands `zero:storage/backend` to component {}, which is not this host's storage component",
            genuine.components
        ),
    );
}

#[test]
fn a_privileged_instance_re_exported_is_refused() {
    let (_, genuine) = genuine();
    let mut exports = ComponentExportSection::new();
    exports.export("leaked", ComponentExportKind::Instance, genuine.identity, None);
    let mut sections = genuine.sections.clone();
    sections.push(raw(ComponentSectionId::Export, &exports));
    assert_refused(&assemble(&sections), "re-exports `zero:storage/identity`");
}

#[test]
fn an_alias_of_a_privileged_instance_export_is_refused() {
    let (_, genuine) = genuine();
    let mut aliases = wasm_encoder::ComponentAliasSection::new();
    aliases.alias(Alias::InstanceExport { instance: genuine.backend, kind: ComponentExportKind::Func, name: "commit" });
    let mut sections = genuine.sections.clone();
    sections.push(raw(ComponentSectionId::Alias, &aliases));
    assert_refused(&assemble(&sections), "aliases an export of `zero:storage/backend`");
}

#[test]
fn a_privileged_instance_bundled_into_an_instance_for_a_nested_component_is_refused() {
    let (_, genuine) = genuine();
    let mut instances = ComponentInstanceSection::new();
    instances.export_items([("backend", ComponentExportKind::Instance, genuine.backend)]);
    let mut sections = genuine.sections.clone();
    sections.push(raw(ComponentSectionId::Instance, &instances));
    assert_refused(&assemble(&sections), "bundles `zero:storage/backend`");
}

#[test]
fn two_storage_copies_are_refused() {
    let (_, genuine) = genuine();
    let mut sections = genuine.sections.clone();
    sections.push(storage_copy());
    assert_refused(&assemble(&sections), "embeds 2 copies of this host's storage component");
}

#[test]
fn a_storage_copy_that_is_never_instantiated_is_refused() {
    let (_, genuine) = genuine();
    let mut sections = prefix(&genuine);
    sections.push(storage_copy());
    assert_refused(&assemble(&sections), "never instantiates it");
}

#[test]
fn a_storage_copy_instantiated_twice_is_refused() {
    let (wasm, genuine) = genuine();
    let instantiates_storage = |range: &Range<usize>| {
        let reader =
            wasmparser::ComponentInstanceSectionReader::new(wasmparser::BinaryReader::new(&wasm[range.clone()], 0));
        reader
            .unwrap()
            .into_iter()
            .any(|i| matches!(i.unwrap(), ComponentInstance::Instantiate { component_index: 0, .. }))
    };
    let (storage_instance, _) = top_level_sections(&wasm)
        .into_iter()
        .find(|(section, range)| section.id == ComponentSectionId::Instance as u8 && instantiates_storage(range))
        .expect("the genuine composition instantiates the storage copy");
    let mut sections = genuine.sections.clone();
    sections.push(storage_instance);
    assert_refused(&assemble(&sections), "instantiates this host's storage component 2 times");
}

#[test]
fn a_privileged_import_that_is_not_an_instance_is_refused() {
    let mut types = ComponentTypeSection::new();
    types.function().params::<[(&str, wasm_encoder::ComponentValType); 0], _>([]).result(None);
    let mut imports = ComponentImportSection::new();
    imports.import("zero:storage/admin@0.1.0", ComponentTypeRef::Func(0));
    let mut component = wasm_encoder::Component::new();
    component.section(&types).section(&imports);
    assert_refused(&component.finish(), "imports `zero:storage/admin@0.1.0` as something other than an instance");
}

#[test]
fn a_crafted_composition_never_runs_and_never_touches_the_backend() {
    let (_, genuine) = genuine();
    let core_module = Section { id: ComponentSectionId::CoreModule as u8, data: wasm_encoder::Module::new().finish() };
    let mut sections = prefix(&genuine);
    sections.extend([core_module, storage_copy(), impostor(), instantiate_with_backend(1, genuine.backend)]);
    let backend = Arc::new(MemoryBackend::new());
    let (runtime, _clock) = runtime_with(backend.clone(), Config::default());
    let error = runtime.run_app(ProcessIdentity::new("evil").unwrap(), &assemble(&sections), &[]).unwrap_err();
    assert!(error.to_string().contains("not a sealed composition"), "{error}");
    assert!(backend.namespaces().unwrap().is_empty(), "the refused app wrote nothing");
}
