// A small time-series chart on uPlot (tiny, canvas based, fast to redraw every few seconds).
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface Series {
  label: string;
  color: string;
  values: (number | null)[];
}

export function TimeChart({ title, times, series, unit, height = 180 }: { title: string; times: number[]; series: Series[]; unit: string; height?: number }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  // Recreate only when the set of series changes; new data goes through setData.
  const shape = series.map((s) => s.label).join('|');

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height,
      legend: { show: true },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.15)] } },
      axes: [{ stroke: '#5b6472' }, { stroke: '#5b6472', size: 50, label: unit, labelSize: 18 }],
      series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.color, width: 2, fill: `${s.color}22`, points: { show: false } }))],
    };
    const u = new uPlot(opts, [[], ...series.map(() => [])], el);
    plot.current = u;
    const ro = new ResizeObserver(() => u.setSize({ width: Math.max(200, el.clientWidth), height }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
      plot.current = null;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [shape, height, unit]);

  useEffect(() => {
    // uPlot wants seconds on a time axis.
    plot.current?.setData([times.map((t) => t / 1000), ...series.map((s) => s.values)] as uPlot.AlignedData);
  }, [times, series]);

  const last = series.map((s) => `${s.label} ${s.values.at(-1) ?? '–'}`).join(', ');
  return (
    <figure className="chart">
      <figcaption>{title}</figcaption>
      {/* The canvas is invisible to screen readers: the latest values are given as text. */}
      <div ref={box} role="img" aria-label={`${title}: ${times.length ? `latest ${last} ${unit}` : 'no data yet'}`} />
      {times.length === 0 && <p className="muted chart-empty">No data yet: one point per minute since the start.</p>}
    </figure>
  );
}
