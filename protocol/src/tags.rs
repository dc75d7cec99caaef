//! Message tags: the `u32` in front of every frame that says what its payload is.
//!
//! Requests have even tags and each answer has its request's tag + 1. `0x7000`–`0x7009` are the
//! original design's five messages, on the caller's own namespace. From `0x7010` on come ours:
//! first the design's five again with a `namespace` field in front (tag + `0x10`), then the rest
//! of `zero:storage/store`, then the identity claim, then the administration that only system
//! processes may do (listing namespaces, sweeping), then backup and restore through files on the
//! service's side, for fully trusted peers only (exporting and importing dumps). [`MSG_ERROR`] answers any request that could
//! not be decoded or (for `STORAGE_LIST`) did not succeed.

/// `STORAGE_GET`: read one key of the caller's namespace.
pub const MSG_STORAGE_GET: u32 = 0x7000;
/// The answer to [`MSG_STORAGE_GET`].
pub const MSG_STORAGE_GET_RESPONSE: u32 = 0x7001;
/// `STORAGE_SET`: write one key of the caller's namespace.
pub const MSG_STORAGE_SET: u32 = 0x7002;
/// The answer to [`MSG_STORAGE_SET`].
pub const MSG_STORAGE_SET_RESPONSE: u32 = 0x7003;
/// `STORAGE_DELETE`: remove one key of the caller's namespace.
pub const MSG_STORAGE_DELETE: u32 = 0x7004;
/// The answer to [`MSG_STORAGE_DELETE`].
pub const MSG_STORAGE_DELETE_RESPONSE: u32 = 0x7005;
/// `STORAGE_LIST`: one page of the caller's keys under a prefix.
pub const MSG_STORAGE_LIST: u32 = 0x7006;
/// The answer to [`MSG_STORAGE_LIST`] (failures are answered with [`MSG_ERROR`]).
pub const MSG_STORAGE_LIST_RESPONSE: u32 = 0x7007;
/// `STORAGE_QUOTA`: the caller's namespace, usage and quota.
pub const MSG_STORAGE_QUOTA: u32 = 0x7008;
/// The answer to [`MSG_STORAGE_QUOTA`].
pub const MSG_STORAGE_QUOTA_RESPONSE: u32 = 0x7009;

/// `STORAGE_GET_IN`: [`MSG_STORAGE_GET`] in a named namespace.
pub const MSG_STORAGE_GET_IN: u32 = 0x7010;
/// The answer to [`MSG_STORAGE_GET_IN`].
pub const MSG_STORAGE_GET_IN_RESPONSE: u32 = 0x7011;
/// `STORAGE_SET_IN`: [`MSG_STORAGE_SET`] in a named namespace.
pub const MSG_STORAGE_SET_IN: u32 = 0x7012;
/// The answer to [`MSG_STORAGE_SET_IN`].
pub const MSG_STORAGE_SET_IN_RESPONSE: u32 = 0x7013;
/// `STORAGE_DELETE_IN`: [`MSG_STORAGE_DELETE`] in a named namespace.
pub const MSG_STORAGE_DELETE_IN: u32 = 0x7014;
/// The answer to [`MSG_STORAGE_DELETE_IN`].
pub const MSG_STORAGE_DELETE_IN_RESPONSE: u32 = 0x7015;
/// `STORAGE_LIST_IN`: [`MSG_STORAGE_LIST`] in a named namespace, with a typed error.
pub const MSG_STORAGE_LIST_IN: u32 = 0x7016;
/// The answer to [`MSG_STORAGE_LIST_IN`].
pub const MSG_STORAGE_LIST_IN_RESPONSE: u32 = 0x7017;
/// `STORAGE_QUOTA_IN`: [`MSG_STORAGE_QUOTA`] for a named namespace.
pub const MSG_STORAGE_QUOTA_IN: u32 = 0x7018;
/// The answer to [`MSG_STORAGE_QUOTA_IN`].
pub const MSG_STORAGE_QUOTA_IN_RESPONSE: u32 = 0x7019;
/// `STORAGE_EXISTS`: whether a key has a live entry, without reading its value.
pub const MSG_STORAGE_EXISTS: u32 = 0x701A;
/// The answer to [`MSG_STORAGE_EXISTS`].
pub const MSG_STORAGE_EXISTS_RESPONSE: u32 = 0x701B;
/// `STORAGE_GET_VERSIONED`: a value with its version, for a later compare-and-swap.
pub const MSG_STORAGE_GET_VERSIONED: u32 = 0x701C;
/// The answer to [`MSG_STORAGE_GET_VERSIONED`].
pub const MSG_STORAGE_GET_VERSIONED_RESPONSE: u32 = 0x701D;
/// `STORAGE_GET_MANY`: several values from one snapshot.
pub const MSG_STORAGE_GET_MANY: u32 = 0x701E;
/// The answer to [`MSG_STORAGE_GET_MANY`].
pub const MSG_STORAGE_GET_MANY_RESPONSE: u32 = 0x701F;
/// `STORAGE_SET_MANY`: several writes, all or nothing.
pub const MSG_STORAGE_SET_MANY: u32 = 0x7020;
/// The answer to [`MSG_STORAGE_SET_MANY`].
pub const MSG_STORAGE_SET_MANY_RESPONSE: u32 = 0x7021;
/// `STORAGE_DELETE_MANY`: several deletes, all or nothing.
pub const MSG_STORAGE_DELETE_MANY: u32 = 0x7022;
/// The answer to [`MSG_STORAGE_DELETE_MANY`].
pub const MSG_STORAGE_DELETE_MANY_RESPONSE: u32 = 0x7023;
/// `STORAGE_INCREMENT`: add to a decimal counter atomically.
pub const MSG_STORAGE_INCREMENT: u32 = 0x7024;
/// The answer to [`MSG_STORAGE_INCREMENT`].
pub const MSG_STORAGE_INCREMENT_RESPONSE: u32 = 0x7025;
/// `STORAGE_TRANSACT`: writes applied all or nothing if every precondition holds.
pub const MSG_STORAGE_TRANSACT: u32 = 0x7026;
/// The answer to [`MSG_STORAGE_TRANSACT`].
pub const MSG_STORAGE_TRANSACT_RESPONSE: u32 = 0x7027;
/// `STORAGE_CLAIM`: act as another identity (name, roles, user) for the rest of the connection.
pub const MSG_STORAGE_CLAIM: u32 = 0x7028;
/// The answer to [`MSG_STORAGE_CLAIM`].
pub const MSG_STORAGE_CLAIM_RESPONSE: u32 = 0x7029;
/// `STORAGE_NAMESPACES`: one page of the namespaces that hold data (system processes only).
pub const MSG_STORAGE_NAMESPACES: u32 = 0x702A;
/// The answer to [`MSG_STORAGE_NAMESPACES`].
pub const MSG_STORAGE_NAMESPACES_RESPONSE: u32 = 0x702B;
/// `STORAGE_SWEEP`: reclaim the space of a namespace's expired entries (system processes only).
pub const MSG_STORAGE_SWEEP: u32 = 0x702C;
/// The answer to [`MSG_STORAGE_SWEEP`].
pub const MSG_STORAGE_SWEEP_RESPONSE: u32 = 0x702D;
/// `STORAGE_EXPORT_FILE`: write a dump of namespaces to a new file on the service's side (a
/// fully trusted system process only).
pub const MSG_STORAGE_EXPORT_FILE: u32 = 0x702E;
/// The answer to [`MSG_STORAGE_EXPORT_FILE`].
pub const MSG_STORAGE_EXPORT_FILE_RESPONSE: u32 = 0x702F;
/// `STORAGE_IMPORT_FILE`: restore a dump from a file on the service's side (a fully trusted
/// system process only).
pub const MSG_STORAGE_IMPORT_FILE: u32 = 0x7030;
/// The answer to [`MSG_STORAGE_IMPORT_FILE`].
pub const MSG_STORAGE_IMPORT_FILE_RESPONSE: u32 = 0x7031;

/// The generic error frame: answers a request that could not be decoded (unknown tag, bad
/// payload, frame too long) or a `STORAGE_LIST` that failed, naming the request's tag.
pub const MSG_ERROR: u32 = 0x70FF;

/// Every tag with its name as PROTOCOL.md writes it, requests and answers in tag order.
pub const TAG_NAMES: [(u32, &str); 45] = [
    (MSG_STORAGE_GET, "STORAGE_GET"),
    (MSG_STORAGE_GET_RESPONSE, "STORAGE_GET_RESPONSE"),
    (MSG_STORAGE_SET, "STORAGE_SET"),
    (MSG_STORAGE_SET_RESPONSE, "STORAGE_SET_RESPONSE"),
    (MSG_STORAGE_DELETE, "STORAGE_DELETE"),
    (MSG_STORAGE_DELETE_RESPONSE, "STORAGE_DELETE_RESPONSE"),
    (MSG_STORAGE_LIST, "STORAGE_LIST"),
    (MSG_STORAGE_LIST_RESPONSE, "STORAGE_LIST_RESPONSE"),
    (MSG_STORAGE_QUOTA, "STORAGE_QUOTA"),
    (MSG_STORAGE_QUOTA_RESPONSE, "STORAGE_QUOTA_RESPONSE"),
    (MSG_STORAGE_GET_IN, "STORAGE_GET_IN"),
    (MSG_STORAGE_GET_IN_RESPONSE, "STORAGE_GET_IN_RESPONSE"),
    (MSG_STORAGE_SET_IN, "STORAGE_SET_IN"),
    (MSG_STORAGE_SET_IN_RESPONSE, "STORAGE_SET_IN_RESPONSE"),
    (MSG_STORAGE_DELETE_IN, "STORAGE_DELETE_IN"),
    (MSG_STORAGE_DELETE_IN_RESPONSE, "STORAGE_DELETE_IN_RESPONSE"),
    (MSG_STORAGE_LIST_IN, "STORAGE_LIST_IN"),
    (MSG_STORAGE_LIST_IN_RESPONSE, "STORAGE_LIST_IN_RESPONSE"),
    (MSG_STORAGE_QUOTA_IN, "STORAGE_QUOTA_IN"),
    (MSG_STORAGE_QUOTA_IN_RESPONSE, "STORAGE_QUOTA_IN_RESPONSE"),
    (MSG_STORAGE_EXISTS, "STORAGE_EXISTS"),
    (MSG_STORAGE_EXISTS_RESPONSE, "STORAGE_EXISTS_RESPONSE"),
    (MSG_STORAGE_GET_VERSIONED, "STORAGE_GET_VERSIONED"),
    (MSG_STORAGE_GET_VERSIONED_RESPONSE, "STORAGE_GET_VERSIONED_RESPONSE"),
    (MSG_STORAGE_GET_MANY, "STORAGE_GET_MANY"),
    (MSG_STORAGE_GET_MANY_RESPONSE, "STORAGE_GET_MANY_RESPONSE"),
    (MSG_STORAGE_SET_MANY, "STORAGE_SET_MANY"),
    (MSG_STORAGE_SET_MANY_RESPONSE, "STORAGE_SET_MANY_RESPONSE"),
    (MSG_STORAGE_DELETE_MANY, "STORAGE_DELETE_MANY"),
    (MSG_STORAGE_DELETE_MANY_RESPONSE, "STORAGE_DELETE_MANY_RESPONSE"),
    (MSG_STORAGE_INCREMENT, "STORAGE_INCREMENT"),
    (MSG_STORAGE_INCREMENT_RESPONSE, "STORAGE_INCREMENT_RESPONSE"),
    (MSG_STORAGE_TRANSACT, "STORAGE_TRANSACT"),
    (MSG_STORAGE_TRANSACT_RESPONSE, "STORAGE_TRANSACT_RESPONSE"),
    (MSG_STORAGE_CLAIM, "STORAGE_CLAIM"),
    (MSG_STORAGE_CLAIM_RESPONSE, "STORAGE_CLAIM_RESPONSE"),
    (MSG_STORAGE_NAMESPACES, "STORAGE_NAMESPACES"),
    (MSG_STORAGE_NAMESPACES_RESPONSE, "STORAGE_NAMESPACES_RESPONSE"),
    (MSG_STORAGE_SWEEP, "STORAGE_SWEEP"),
    (MSG_STORAGE_SWEEP_RESPONSE, "STORAGE_SWEEP_RESPONSE"),
    (MSG_STORAGE_EXPORT_FILE, "STORAGE_EXPORT_FILE"),
    (MSG_STORAGE_EXPORT_FILE_RESPONSE, "STORAGE_EXPORT_FILE_RESPONSE"),
    (MSG_STORAGE_IMPORT_FILE, "STORAGE_IMPORT_FILE"),
    (MSG_STORAGE_IMPORT_FILE_RESPONSE, "STORAGE_IMPORT_FILE_RESPONSE"),
    (MSG_ERROR, "ERROR"),
];

/// The name of `tag` (`STORAGE_GET` for `0x7000`), or `None` for a tag this protocol does not
/// define.
pub fn tag_name(tag: u32) -> Option<&'static str> {
    TAG_NAMES.iter().find(|(known, _)| *known == tag).map(|(_, name)| *name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_answer_tag_is_its_request_tag_plus_one() {
        for pair in TAG_NAMES[..TAG_NAMES.len() - 1].chunks(2) {
            let [(request, request_name), (answer, answer_name)] = pair else { unreachable!() };
            assert_eq!(request % 2, 0, "{request_name}");
            assert_eq!(*answer, request + 1, "{answer_name}");
            assert_eq!(*answer_name, format!("{request_name}_RESPONSE"));
        }
    }

    #[test]
    fn tags_are_in_order_and_unique() {
        assert!(TAG_NAMES.windows(2).all(|pair| pair[0].0 < pair[1].0));
    }

    #[test]
    fn namespaced_twins_sit_sixteen_above_the_designs_messages() {
        for (design, twin) in [
            (MSG_STORAGE_GET, MSG_STORAGE_GET_IN),
            (MSG_STORAGE_SET, MSG_STORAGE_SET_IN),
            (MSG_STORAGE_DELETE, MSG_STORAGE_DELETE_IN),
            (MSG_STORAGE_LIST, MSG_STORAGE_LIST_IN),
            (MSG_STORAGE_QUOTA, MSG_STORAGE_QUOTA_IN),
        ] {
            assert_eq!(twin, design + 0x10);
            assert_eq!(tag_name(twin).unwrap(), format!("{}_IN", tag_name(design).unwrap()));
        }
    }

    #[test]
    fn unknown_tags_have_no_name() {
        assert_eq!(tag_name(0x7000), Some("STORAGE_GET"));
        assert_eq!(tag_name(0x7032), None);
        assert_eq!(tag_name(0), None);
    }
}
