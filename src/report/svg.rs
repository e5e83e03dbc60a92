//! Pictures for the campaign report, drawn as inline SVG: no script, no font or file from
//! elsewhere, so the page opens from `file://` and prints as it shows.

use crate::render::escape_html as esc;

const BAR: &str = "#0b3d61";

/// Horizontal bars, one per (label, value), longest first as given; each labelled with its
/// number, so the picture reads without a scale.
pub fn bars(title: &str, rows: &[(String, usize)]) -> String {
    if rows.is_empty() {
        return String::new();
    }
    let max = rows.iter().map(|r| r.1).max().unwrap_or(1).max(1);
    let (label_w, bar_w, row_h) = (220.0, 300.0, 26.0);
    let height = rows.len() as f64 * row_h + 8.0;
    let mut s = format!(
        "<svg role=\"img\" aria-label=\"{}\" viewBox=\"0 0 {w} {height}\" width=\"100%\" style=\"max-width:{w}px\" xmlns=\"http://www.w3.org/2000/svg\" font-family=\"Arial, Helvetica, sans-serif\" font-size=\"13\">",
        esc(title),
        w = label_w + bar_w + 70.0
    );
    for (i, (label, n)) in rows.iter().enumerate() {
        let y = i as f64 * row_h + 4.0;
        let len = (*n as f64 / max as f64) * bar_w;
        let shown: String = label.chars().take(34).collect();
        s.push_str(&format!(
            "<text x=\"{x}\" y=\"{ty}\" text-anchor=\"end\" fill=\"#1d2733\">{}</text><rect x=\"{bx}\" y=\"{y}\" width=\"{len:.1}\" height=\"{h}\" fill=\"{BAR}\"><title>{}: {n}</title></rect><text x=\"{nx:.1}\" y=\"{ty}\" fill=\"#1d2733\">{n}</text>",
            esc(&shown),
            esc(label),
            x = label_w - 8.0,
            ty = y + 15.0,
            bx = label_w,
            h = row_h - 8.0,
            nx = label_w + len + 6.0,
        ));
    }
    s.push_str("</svg>");
    s
}

/// Columns over time: one per bucket (label, value), with the first and last labels under the
/// axis and the highest count beside it.
pub fn columns(title: &str, buckets: &[(String, usize)]) -> String {
    if buckets.is_empty() {
        return String::new();
    }
    let max = buckets.iter().map(|b| b.1).max().unwrap_or(1).max(1);
    let (w, h, left, bottom) = (640.0, 200.0, 40.0, 24.0);
    let step = (w - left) / buckets.len() as f64;
    let mut s = format!(
        "<svg role=\"img\" aria-label=\"{}\" viewBox=\"0 0 {w} {}\" width=\"100%\" style=\"max-width:{w}px\" xmlns=\"http://www.w3.org/2000/svg\" font-family=\"Arial, Helvetica, sans-serif\" font-size=\"12\">",
        esc(title),
        h + bottom
    );
    s.push_str(&format!(
        "<line x1=\"{left}\" y1=\"{h}\" x2=\"{w}\" y2=\"{h}\" stroke=\"#8a99a8\"/><text x=\"{}\" y=\"12\" text-anchor=\"end\" fill=\"#56646f\">{max}</text><line x1=\"{left}\" y1=\"4\" x2=\"{w}\" y2=\"4\" stroke=\"#e3e8ed\"/>",
        left - 4.0
    ));
    // A column no wider than 40: one bucket is a bar, not a wall.
    let width = (step * 0.8).clamp(1.0, 40.0);
    for (i, (label, n)) in buckets.iter().enumerate() {
        let bh = (*n as f64 / max as f64) * (h - 8.0);
        s.push_str(&format!(
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{width:.1}\" height=\"{bh:.1}\" fill=\"{BAR}\"><title>{}: {n}</title></rect>",
            left + i as f64 * step + (step - width) / 2.0,
            h - bh,
            esc(label)
        ));
    }
    let first = &buckets[0].0;
    let last = &buckets[buckets.len() - 1].0;
    s.push_str(&format!(
        "<text x=\"{left}\" y=\"{}\" fill=\"#56646f\">{}</text><text x=\"{w}\" y=\"{}\" text-anchor=\"end\" fill=\"#56646f\">{}</text></svg>",
        h + 16.0,
        esc(first),
        h + 16.0,
        esc(last)
    ));
    s
}
