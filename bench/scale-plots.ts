/**
 * The scale bench's plots: a Vega-Lite spec per series, compiled to Vega, rendered to SVG by
 * Vega's headless view (no canvas, no browser) and to PNG by resvg (system fonts: DejaVu).
 */
import { writeFile } from 'node:fs/promises';
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import * as vegaLite from 'vega-lite';

/** One point: x, y, and the line it belongs to. */
export interface Point {
  x: number;
  y: number;
  line: string;
}

export interface LineChart {
  title: string;
  x: string;
  y: string;
  points: Point[];
  /** Logarithmic x (sizes spanning decades). */
  logX?: boolean;
  /** Bars, one per line (x unused), instead of lines. */
  bar?: boolean;
  /** A horizontal rule: the target. */
  target?: { y: number; label: string };
}

const WIDTH = 520;
const HEIGHT = 280;

function layer(chart: LineChart): Record<string, unknown> {
  const lines = chart.bar
    ? {
        data: { values: chart.points },
        mark: { type: 'bar' },
        encoding: {
          x: { field: 'line', type: 'nominal', title: null, axis: { labelAngle: 0, labelLimit: 300 } },
          y: { field: 'y', type: 'quantitative', title: chart.y },
          color: { field: 'line', type: 'nominal', legend: null },
        },
      }
    : {
    data: { values: chart.points },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: chart.x, scale: chart.logX ? { type: 'log' } : { zero: false }, axis: { grid: true } },
      y: { field: 'y', type: 'quantitative', title: chart.y, scale: { zero: true } },
      color: { field: 'line', type: 'nominal', title: null, legend: { orient: 'bottom', columns: 2, labelLimit: 400 } },
    },
  };
  const layers: Array<Record<string, unknown>> = [lines];
  if (chart.target) {
    layers.push({
      data: { values: [{ y: chart.target.y, label: chart.target.label }] },
      mark: { type: 'rule', strokeDash: [6, 4], color: '#c0392b' },
      encoding: { y: { field: 'y', type: 'quantitative' } },
    });
    layers.push({
      data: { values: [{ y: chart.target.y, label: chart.target.label }] },
      mark: { type: 'text', align: 'left', dx: 4, dy: -6, x: 0, color: '#c0392b' },
      encoding: { y: { field: 'y', type: 'quantitative' }, text: { field: 'label' } },
    });
  }
  return { title: chart.title, width: WIDTH, height: HEIGHT, layer: layers };
}

/** Renders charts stacked (an array: a row of charts side by side), one PNG, to `path`. */
export async function writePlot(path: string, title: string, charts: Array<LineChart | LineChart[]>): Promise<void> {
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: title, fontSize: 15 },
    background: 'white',
    padding: 12,
    config: { font: 'DejaVu Sans', view: { stroke: '#ccc' } },
    vconcat: charts.map((row) => (Array.isArray(row) ? { hconcat: row.map(layer), resolve: { scale: { color: 'shared' } } } : layer(row))),
    resolve: { scale: { color: 'independent' } },
  };
  const compiled = vegaLite.compile(spec as unknown as vegaLite.TopLevelSpec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  const png = new Resvg(svg, { font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' }, fitTo: { mode: 'zoom', value: 1.5 } }).render().asPng();
  await writeFile(path, png);
}
