import type { ComponentChildren } from 'preact';
import { useMemo, useState } from 'preact/hooks';

export interface Column<Row> {
  id: string;
  /** Column header text: what assistive technology reads for every cell of the column. */
  header: string;
  render: (row: Row) => ComponentChildren;
  /** When set, the header is a button that sorts by this column. */
  compare?: (a: Row, b: Row) => number;
  /** Numbers are right-aligned. */
  numeric?: boolean;
  /** The cell that names its row (a row header). */
  rowHeader?: boolean;
  /** The header is read but not shown (an actions column). */
  hideHeader?: boolean;
}

export type SortDirection = 'ascending' | 'descending';
export interface SortState {
  column: string;
  direction: SortDirection;
}

export interface Selection<Row> {
  /** The selected rows, by `key`. */
  selected: ReadonlySet<string>;
  key: (row: Row) => string;
  onChange: (selected: Set<string>) => void;
  /** Accessible name of a row's checkbox: "Select report.pdf". */
  label: (row: Row) => string;
  /** Rows that cannot be selected get no checkbox (folders, say). */
  selectable?: (row: Row) => boolean;
}

export interface DataTableProps<Row> {
  /** The table's caption: its accessible name ("Buckets", "Objects", …). */
  caption: string;
  columns: Array<Column<Row>>;
  rows: Row[];
  rowKey: (row: Row) => string;
  selection?: Selection<Row>;
  initialSort?: SortState;
  /** Rows are ordered by group first whatever the sort (folders before objects). */
  group?: (row: Row) => number;
  /** Shown in a single row when there are no rows. */
  empty?: ComponentChildren;
  busy?: boolean;
}

/**
 * The console's table: a caption, column headers (`th scope="col"`), a row header per row,
 * optional sorting (`aria-sort` on the sorted header) and optional row checkboxes.
 */
export function DataTable<Row>(props: DataTableProps<Row>) {
  const { caption, columns, rows, rowKey, selection, group, empty, busy } = props;
  const [sort, setSort] = useState<SortState | undefined>(props.initialSort);

  const ordered = useMemo(() => {
    const column = sort && columns.find((candidate) => candidate.id === sort.column);
    if (!column?.compare && !group) return rows;
    const sign = sort?.direction === 'descending' ? -1 : 1;
    return [...rows].sort((a, b) => (group ? group(a) - group(b) : 0) || (column?.compare ? sign * column.compare(a, b) : 0));
  }, [rows, sort, columns, group]);

  const selectable = selection ? ordered.filter((row) => selection.selectable?.(row) ?? true) : [];
  const selectedCount = selection ? selectable.filter((row) => selection.selected.has(selection.key(row))).length : 0;
  const toggleAll = () => {
    if (!selection) return;
    selection.onChange(selectedCount === selectable.length ? new Set() : new Set(selectable.map(selection.key)));
  };
  const toggle = (row: Row) => {
    if (!selection) return;
    const next = new Set(selection.selected);
    const key = selection.key(row);
    if (next.has(key)) next.delete(key);
    else next.add(key);
    selection.onChange(next);
  };
  const sortBy = (column: Column<Row>) => {
    setSort((previous) => ({
      column: column.id,
      direction: previous?.column === column.id && previous.direction === 'ascending' ? 'descending' : 'ascending',
    }));
  };

  return (
    <table class="data-table" aria-busy={busy ? 'true' : undefined}>
      <caption>{caption}</caption>
      <thead>
        <tr>
          {selection && (
            <th scope="col" class="select">
              <input
                type="checkbox"
                aria-label="Select all"
                checked={selectable.length > 0 && selectedCount === selectable.length}
                indeterminate={selectedCount > 0 && selectedCount < selectable.length}
                disabled={selectable.length === 0}
                onChange={toggleAll}
              />
            </th>
          )}
          {columns.map((column) => {
            const sorted = sort?.column === column.id ? sort.direction : undefined;
            return (
              <th scope="col" key={column.id} class={column.numeric ? 'numeric' : undefined} aria-sort={column.compare ? (sorted ?? 'none') : undefined}>
                {column.compare ? (
                  <button type="button" class="sort" onClick={() => sortBy(column)}>
                    {column.header}
                    <span aria-hidden="true" class="sort-mark">
                      {sorted === 'ascending' ? ' ▲' : sorted === 'descending' ? ' ▼' : ''}
                    </span>
                  </button>
                ) : column.hideHeader ? (
                  <span class="visually-hidden">{column.header}</span>
                ) : (
                  column.header
                )}
              </th>
            );
          })}
        </tr>
      </thead>
      <tbody>
        {ordered.length === 0 && empty !== undefined && (
          <tr>
            <td colSpan={columns.length + (selection ? 1 : 0)} class="empty">
              {empty}
            </td>
          </tr>
        )}
        {ordered.map((row) => {
          const key = rowKey(row);
          const canSelect = selection && (selection.selectable?.(row) ?? true);
          return (
            <tr key={key}>
              {selection && (
                <td class="select">
                  {canSelect && <input type="checkbox" aria-label={selection.label(row)} checked={selection.selected.has(selection.key(row))} onChange={() => toggle(row)} />}
                </td>
              )}
              {columns.map((column) => {
                const Cell = column.rowHeader ? 'th' : 'td';
                return (
                  <Cell key={column.id} scope={column.rowHeader ? 'row' : undefined} class={column.numeric ? 'numeric' : undefined}>
                    {column.render(row)}
                  </Cell>
                );
              })}
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
