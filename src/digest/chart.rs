//! The digest's chart: the last 30 days by the top services, as a PNG drawn
//! with plotters into a plain RGB buffer and encoded with `png`. Text uses
//! DejaVu Sans Mono embedded in the binary (assets/fonts, a free license),
//! so it draws the same on a machine without fonts.

use std::sync::Once;

use plotters::prelude::*;
use rust_decimal::prelude::ToPrimitive;

use super::builder::ChartData;

pub const WIDTH: u32 = 900;
pub const HEIGHT: u32 = 420;

const FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSansMono.ttf");
const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(127, 127, 127),
];

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if plotters::style::register_font("sans-serif", FontStyle::Normal, FONT).is_err() {
            tracing::warn!("the chart font did not load; the chart will have no text");
        }
    });
}

/// The PNG. A chart that cannot be drawn is an empty Vec (the digest goes
/// without it rather than not at all).
pub fn draw(data: &ChartData) -> Vec<u8> {
    register_font();
    let mut rgb = vec![255u8; (WIDTH * HEIGHT * 3) as usize];
    if let Err(e) = plot(data, &mut rgb) {
        tracing::warn!(error = %e, "the digest chart could not be drawn");
        return Vec::new();
    }
    encode(&rgb).unwrap_or_default()
}

fn plot<'a>(data: &ChartData, rgb: &'a mut [u8]) -> Result<(), Box<dyn std::error::Error + 'a>> {
    let root = BitMapBackend::with_buffer(rgb, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE)?;
    let n = data.days.len().max(1) as i32;
    let max = data
        .series
        .iter()
        .flat_map(|(_, v)| v.iter())
        .filter_map(|d| d.to_f64())
        .fold(0.0f64, f64::max)
        .max(1.0);
    let title = match (data.days.first(), data.days.last()) {
        (Some(a), Some(b)) => format!("Daily cost by service, {a} to {b} ({})", data.unit),
        _ => "Daily cost by service".into(),
    };
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(28)
        .y_label_area_size(70)
        .build_cartesian_2d(0..n - 1, 0.0..max * 1.1)?;
    let days = data.days.clone();
    chart
        .configure_mesh()
        .x_labels(6)
        .x_label_formatter(&|i| {
            days.get(*i as usize)
                .map(|d| d.format("%m-%d").to_string())
                .unwrap_or_default()
        })
        .y_label_formatter(&|v| format!("{v:.0}"))
        .label_style(("sans-serif", 12))
        .draw()?;
    for (i, (name, values)) in data.series.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        chart
            .draw_series(LineSeries::new(
                values
                    .iter()
                    .enumerate()
                    .map(|(x, v)| (x as i32, v.to_f64().unwrap_or(0.0))),
                color.stroke_width(2),
            ))?
            .label(name.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 12))
        .draw()?;
    root.present()?;
    Ok(())
}

fn encode(rgb: &[u8]) -> Result<Vec<u8>, png::EncodingError> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, WIDTH, HEIGHT);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc.write_header()?;
        w.write_image_data(rgb)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, NaiveDate};

    #[test]
    fn draws_a_png_of_the_stated_size() {
        let first = NaiveDate::from_ymd_opt(2026, 10, 20).unwrap();
        let data = ChartData {
            days: (0..30).map(|i| first + Duration::days(i)).collect(),
            series: vec![
                (
                    "EC2".into(),
                    (0..30)
                        .map(|i| rust_decimal::Decimal::from(100 + i))
                        .collect(),
                ),
                (
                    "S3".into(),
                    (0..30).map(|_| rust_decimal::Decimal::from(40)).collect(),
                ),
            ],
            unit: "USD".into(),
        };
        let png = draw(&data);
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(&png[12..16], b"IHDR");
        assert_eq!(u32::from_be_bytes(png[16..20].try_into().unwrap()), WIDTH);
        assert_eq!(u32::from_be_bytes(png[20..24].try_into().unwrap()), HEIGHT);
        // Something besides the white background was drawn.
        let decoder = png::Decoder::new(std::io::Cursor::new(&png));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        reader.next_frame(&mut buf).unwrap();
        assert!(buf.iter().any(|b| *b < 200));
    }
}
