//! Reading an app component's structure before it runs: its imports, and whether an app that
//! imports the privileged storage interfaces is a sealed composition with our storage component.

use anyhow::{Result, bail};
use wasmparser::{
    Chunk, ComponentAlias, ComponentExternalKind, ComponentInstance, ComponentOuterAliasKind, ComponentTypeRef, Parser,
    Payload,
};

use super::PRIVILEGED;

/// The top-level sections of a component, with nested modules and components skipped.
fn for_each_top_level_payload(wasm: &[u8], mut visit: impl FnMut(Payload<'_>, &[u8]) -> Result<()>) -> Result<()> {
    if !Parser::is_component(wasm) {
        bail!("not a component (a core module or other bytes)");
    }
    let mut parser = Parser::new(0);
    let mut rest = wasm;
    loop {
        let (payload, consumed) = match parser.parse(rest, true)? {
            Chunk::Parsed { consumed, payload } => (payload, consumed),
            Chunk::NeedMoreData(_) => bail!("truncated component"),
        };
        let start = wasm.len() - rest.len();
        rest = &rest[consumed..];
        match payload {
            Payload::End(_) => return Ok(()),
            Payload::ModuleSection { unchecked_range: range, .. }
            | Payload::ComponentSection { unchecked_range: range, .. } => {
                let (from, to) = (range.start as usize, range.end as usize);
                let nested = wasm.get(from..to).ok_or_else(|| anyhow::anyhow!("malformed nested section"))?;
                // The parent parser does not read nested bytes: step over them.
                rest = rest.get(nested.len()..).ok_or_else(|| anyhow::anyhow!("malformed nested section"))?;
                let _ = start;
                visit(Payload::ComponentSection { parser: Parser::new(from as u64), unchecked_range: range }, nested)?;
            }
            other => visit(other, &[])?,
        }
    }
}

/// The names of a component's top-level imports.
pub fn top_level_imports(wasm: &[u8]) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for_each_top_level_payload(wasm, |payload, _| {
        if let Payload::ComponentImportSection(section) = payload {
            for import in section {
                names.push(import?.name.name.to_owned());
            }
        }
        Ok(())
    })?;
    Ok(names)
}

/// Whether `wasm` embeds `storage` byte for byte and hands its privileged imports (`backend`,
/// `identity`, `admin`) to instances of that embedded component and to nothing else.
pub fn is_sealed_composition(wasm: &[u8], storage: &[u8]) -> Result<bool> {
    let mut components = 0u32; // component index space
    let mut instances = 0u32; // component instance index space
    let mut trusted_components = Vec::new();
    let mut privileged_instances = Vec::new();
    let mut sealed = true;
    let mut used_by_storage = false;
    for_each_top_level_payload(wasm, |payload, nested| {
        match payload {
            Payload::ComponentSection { .. } => {
                if nested == storage {
                    trusted_components.push(components);
                }
                components += 1;
            }
            Payload::ModuleSection { .. } => {}
            Payload::ComponentImportSection(section) => {
                for import in section {
                    let import = import?;
                    let privileged = PRIVILEGED.iter().any(|p| import.name.name.split('@').next() == Some(*p));
                    match import.ty {
                        ComponentTypeRef::Instance(_) => {
                            if privileged {
                                privileged_instances.push(instances);
                            }
                            instances += 1;
                        }
                        ComponentTypeRef::Component(_) => components += 1,
                        _ if privileged => sealed = false,
                        _ => {}
                    }
                }
            }
            Payload::ComponentInstanceSection(section) => {
                for instance in section {
                    match instance? {
                        ComponentInstance::Instantiate { component_index, args } => {
                            for arg in args.iter() {
                                if arg.kind == ComponentExternalKind::Instance
                                    && privileged_instances.contains(&arg.index)
                                {
                                    if trusted_components.contains(&component_index) {
                                        used_by_storage = true;
                                    } else {
                                        sealed = false;
                                    }
                                }
                            }
                        }
                        ComponentInstance::FromExports(exports) => {
                            if exports.iter().any(|e| {
                                e.kind == ComponentExternalKind::Instance && privileged_instances.contains(&e.index)
                            }) {
                                sealed = false;
                            }
                        }
                    }
                    instances += 1;
                }
            }
            Payload::ComponentAliasSection(section) => {
                for alias in section {
                    match alias? {
                        ComponentAlias::InstanceExport { kind, instance_index, .. } => {
                            if privileged_instances.contains(&instance_index) {
                                sealed = false;
                            }
                            match kind {
                                ComponentExternalKind::Instance => instances += 1,
                                ComponentExternalKind::Component => components += 1,
                                _ => {}
                            }
                        }
                        ComponentAlias::Outer { kind: ComponentOuterAliasKind::Component, .. } => components += 1,
                        _ => {}
                    }
                }
            }
            Payload::ComponentExportSection(section) => {
                for export in section {
                    let export = export?;
                    match export.kind {
                        ComponentExternalKind::Instance => {
                            if privileged_instances.contains(&export.index) {
                                sealed = false;
                            }
                            instances += 1;
                        }
                        ComponentExternalKind::Component => components += 1,
                        _ => {}
                    }
                }
            }
            _ => {}
        }
        Ok(())
    })?;
    Ok(sealed && used_by_storage)
}
