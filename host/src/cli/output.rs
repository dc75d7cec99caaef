//! How results are printed: the quota table and its JSON form.

use zero_storage::QuotaInfo;

/// Prints `rows` as the `quota` / `usage` table, or as a JSON array with `json`.
pub(super) fn print_usage(rows: &[QuotaInfo], json: bool) {
    if json {
        let rows: Vec<_> = rows
            .iter()
            .map(|row| {
                serde_json::json!({
                    "namespace": row.namespace,
                    "used_bytes": row.used_bytes,
                    "quota_bytes": row.quota_bytes,
                    "key_count": row.key_count,
                })
            })
            .collect();
        println!("{}", serde_json::Value::Array(rows));
        return;
    }
    println!("{:<24} {:>12} {:>12} {:>7} {:>8}", "NAMESPACE", "USED", "QUOTA", "% USED", "KEYS");
    for row in rows {
        let percent = if row.quota_bytes == 0 { 100.0 } else { row.used_bytes as f64 * 100.0 / row.quota_bytes as f64 };
        println!(
            "{:<24} {:>12} {:>12} {:>6.1}% {:>8}",
            row.namespace,
            human(row.used_bytes),
            human(row.quota_bytes),
            percent,
            row.key_count
        );
    }
}

/// Bytes in binary units, e.g. `1.5 MiB`.
pub(super) fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}
