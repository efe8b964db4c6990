import { Link, objectsRoute } from '../../router';

/** Where in the bucket the page is: the bucket, then each folder of the prefix; the last is the current page. */
export function Breadcrumbs({ bucket, prefix }: { bucket: string; prefix: string }) {
  const folders = prefix.split('/').slice(0, -1);
  const crumbs = [{ label: bucket, prefix: '' }, ...folders.map((name, index) => ({ label: name || '(empty name)', prefix: folders.slice(0, index + 1).join('/') + '/' }))];
  return (
    <nav aria-label="Breadcrumbs" class="breadcrumbs">
      <ol>
        <li>
          <Link to="">Buckets</Link>
        </li>
        {crumbs.map((crumb, index) => (
          <li key={crumb.prefix}>
            {index === crumbs.length - 1 ? (
              <span aria-current="page">{crumb.label}</span>
            ) : (
              <Link to={objectsRoute(bucket, crumb.prefix)}>{crumb.label}</Link>
            )}
          </li>
        ))}
      </ol>
    </nav>
  );
}
