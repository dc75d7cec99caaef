//! Crafted compositions: components that embed this host's storage component and try to hand
//! its privileged imports (`backend`, `identity`) to something else. Each is built from a
//! genuine composition's sections plus a few crafted ones (`zero_storage_tests::composition`),
//! and each must be refused before it runs, with a message that says what is wrong. Genuine
//! compositions are still accepted, and a property test checks the check against a model
//! (`ZERO_COMPOSITION_CASES=N` runs N cases instead of the regular 256: long mode).

use std::sync::Arc;

use proptest::prelude::*;
use wasm_encoder::{
    Alias, ComponentAliasSection, ComponentExportKind, ComponentExportSection, ComponentImportSection,
    ComponentInstanceSection, ComponentSectionId, ComponentTypeRef, ComponentTypeSection,
};
use wasmparser::{Validator, WasmFeatures};
use zero_storage::backend::{Backend, MemoryBackend};
use zero_storage::{AppShape, classify, compose};
use zero_storage::{Config, ProcessIdentity};
use zero_storage_tests::composition::{
    Base, Genuine, Op, Section, assemble, check, core_module, craft, impostor, instantiate_with_backend, minimal_app,
    raw, storage_copy, top_level_sections,
};
use zero_storage_tests::{guest_bytes, runtime_with};

fn genuine() -> Genuine {
    Genuine::of(&guest_bytes("store-tour"))
}

/// Checks that `wasm` is a valid component (so the refusal is the check's, not the
/// validator's), then that `classify` refuses it saying `expected`.
fn assert_refused(wasm: &[u8], expected: &str) {
    Validator::new_with_features(WasmFeatures::all()).validate_all(wasm).expect("the crafted component must be valid");
    let error = classify(wasm).expect_err("a crafted composition must be refused").to_string();
    assert!(error.contains(expected), "expected `{expected}` in: {error}");
    assert!(error.contains("only the storage component may use"), "{error}");
}

/// The shape that fooled the old check: the storage copy is never instantiated, and the
/// component after it (index 1) gets the backend. Counting the core module as a component
/// made index 1 look like the storage copy.
fn core_module_first(genuine: &Genuine) -> Vec<u8> {
    let mut sections = genuine.prefix().to_vec();
    sections.extend([core_module(), storage_copy(), impostor(), instantiate_with_backend(1, genuine.backend)]);
    assemble(&sections)
}

fn with(genuine: &Genuine, more: impl IntoIterator<Item = Section>) -> Vec<u8> {
    let mut sections = genuine.sections.clone();
    sections.extend(more);
    assemble(&sections)
}

#[test]
fn genuine_compositions_of_every_kind_of_app_are_accepted() {
    for guest in ["store-tour", "kv-draft", "kv-draft2", "notes"] {
        let composed = compose(&guest_bytes(guest)).unwrap();
        assert_eq!(classify(&composed).unwrap(), AppShape::Composed, "{guest}");
        // Taken apart and put back together, it is the same composition.
        let sections: Vec<Section> = top_level_sections(&composed).into_iter().map(|(s, _)| s).collect();
        assert_eq!(assemble(&sections), composed, "{guest}");
    }
    assert_eq!(classify(&Genuine::of(&minimal_app()).wasm).unwrap(), AppShape::Composed);
}

#[test]
fn the_zero_storage_compose_command_output_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("composed.wasm");
    let status = std::process::Command::new(zero_storage_tests::binary())
        .arg("compose")
        .arg(zero_storage_tests::guest("store-tour"))
        .arg("-o")
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(classify(&std::fs::read(&out).unwrap()).unwrap(), AppShape::Composed);
}

#[test]
fn a_core_module_before_the_storage_copy_does_not_make_the_next_component_trusted() {
    assert_refused(&core_module_first(&genuine()), "hands `zero:storage/backend` to component 1");
}

#[test]
fn an_impostor_after_a_genuine_storage_copy_is_refused() {
    let genuine = genuine();
    let wasm = with(&genuine, [impostor(), instantiate_with_backend(genuine.components, genuine.backend)]);
    let expected = format!(
        "hands `zero:storage/backend` to component {}, which is not this host's storage component",
        genuine.components
    );
    assert_refused(&wasm, &expected);
}

#[test]
fn a_privileged_instance_re_exported_is_refused() {
    let genuine = genuine();
    let mut exports = ComponentExportSection::new();
    exports.export("leaked", ComponentExportKind::Instance, genuine.identity, None);
    assert_refused(&with(&genuine, [raw(ComponentSectionId::Export, &exports)]), "re-exports `zero:storage/identity`");
}

#[test]
fn an_alias_of_a_privileged_instance_export_is_refused() {
    let genuine = genuine();
    let mut aliases = ComponentAliasSection::new();
    aliases.alias(Alias::InstanceExport { instance: genuine.backend, kind: ComponentExportKind::Func, name: "commit" });
    let wasm = with(&genuine, [raw(ComponentSectionId::Alias, &aliases)]);
    assert_refused(&wasm, "aliases an export of `zero:storage/backend`");
}

#[test]
fn a_privileged_instance_bundled_into_an_instance_for_a_nested_component_is_refused() {
    let genuine = genuine();
    let mut instances = ComponentInstanceSection::new();
    instances.export_items([("backend", ComponentExportKind::Instance, genuine.backend)]);
    assert_refused(&with(&genuine, [raw(ComponentSectionId::Instance, &instances)]), "bundles `zero:storage/backend`");
}

#[test]
fn two_storage_copies_are_refused() {
    assert_refused(&with(&genuine(), [storage_copy()]), "embeds 2 copies of this host's storage component");
}

#[test]
fn a_storage_copy_that_is_never_instantiated_is_refused() {
    let genuine = genuine();
    let mut sections = genuine.prefix().to_vec();
    sections.push(storage_copy());
    assert_refused(&assemble(&sections), "never instantiates it");
}

#[test]
fn a_storage_copy_instantiated_twice_is_refused() {
    let crafted = craft(&genuine(), Base::Whole, &[Op::Instantiate { component: 0, privileged: 0 }]);
    assert_eq!(crafted.storage_instantiations, 2);
    assert_refused(&crafted.wasm, "instantiates this host's storage component 2 times");
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
    let backend = Arc::new(MemoryBackend::new());
    let (runtime, _clock) = runtime_with(backend.clone(), Config::default());
    let error =
        runtime.run_app(ProcessIdentity::new("evil").unwrap(), &core_module_first(&genuine()), &[]).unwrap_err();
    assert!(error.to_string().contains("not a sealed composition"), "{error}");
    assert!(backend.namespaces().unwrap().is_empty(), "the refused app wrote nothing");
}

#[test]
fn the_model_accepts_what_a_composition_tool_could_add_without_leaking() {
    // Harmless additions keep a genuine composition sealed: the check refuses leaks, not shapes.
    let genuine = genuine();
    let harmless = [Op::CoreModule, Op::Impostor, Op::Export { instance: 2 }, Op::Bundle { instance: 3 }];
    let crafted = craft(&genuine, Base::Whole, &harmless);
    assert!(!crafted.leaks);
    assert_eq!(classify(&crafted.wasm).unwrap(), AppShape::Composed);
    // And a composition rebuilt on the prefix alone, with one storage copy instantiated once.
    let rebuilt = craft(
        &genuine,
        Base::Prefix,
        &[Op::CoreModule, Op::StorageCopy, Op::Instantiate { component: 0, privileged: 0 }],
    );
    assert_eq!(classify(&rebuilt.wasm).unwrap(), AppShape::Composed);
}

/// The property test's case count: `ZERO_COMPOSITION_CASES`, or `regular`.
fn cases(regular: u32) -> u32 {
    std::env::var("ZERO_COMPOSITION_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(regular)
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        Just(Op::CoreModule),
        Just(Op::StorageCopy),
        Just(Op::Impostor),
        (any::<u8>(), any::<u8>()).prop_map(|(component, privileged)| Op::Instantiate { component, privileged }),
        (0u8..8).prop_map(|instance| Op::Export { instance }),
        (0u8..8).prop_map(|instance| Op::Alias { instance }),
        (0u8..8).prop_map(|instance| Op::Bundle { instance }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(256), ..ProptestConfig::default() })]

    /// The host accepts a crafted composition exactly when the model says it is sealed: valid,
    /// leaking no privileged instance, one storage copy instantiated once.
    #[test]
    fn the_check_accepts_exactly_the_sealed_compositions(
        prefix_only in any::<bool>(),
        ops in proptest::collection::vec(op(), 0..8),
    ) {
        static GENUINE: std::sync::OnceLock<Genuine> = std::sync::OnceLock::new();
        let genuine = GENUINE.get_or_init(|| Genuine::of(&minimal_app()));
        check(genuine, if prefix_only { Base::Prefix } else { Base::Whole }, &ops);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(256) / 4, ..ProptestConfig::default() })]

    /// The same property on the fuzz target's input format.
    #[test]
    fn the_check_accepts_exactly_the_sealed_compositions_from_fuzzer_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..24)) {
        static GENUINE: std::sync::OnceLock<Genuine> = std::sync::OnceLock::new();
        let genuine = GENUINE.get_or_init(|| Genuine::of(&minimal_app()));
        let (base, ops) = zero_storage_tests::composition::decode(&bytes);
        check(genuine, base, &ops);
    }
}
