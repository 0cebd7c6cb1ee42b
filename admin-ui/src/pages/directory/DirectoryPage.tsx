// Directory: the unit tree on one side, groups on the other. Both come from one GET.
import { useApi } from '../../api/context';
import { ErrorText, Loading, PageHeader } from '../../components/ui';
import { useLoad } from '../../lib/hooks';
import { GroupsPanel } from './Groups';
import { UnitsPanel } from './UnitTree';

export function DirectoryPage() {
  const { api } = useApi();
  const dir = useLoad(() => api.directory(), []);
  return (
    <>
      <PageHeader title="Directory" />
      <p className="muted">Units form a tree (a user is in at most one); groups are flat sets of users. Items from LDAP are read-only here.</p>
      <ErrorText error={dir.error} />
      {!dir.data && !dir.error && <Loading what="directory" />}
      {dir.data && (
        <div className="two-col">
          <UnitsPanel units={dir.data.units} onChanged={dir.reload} />
          <GroupsPanel groups={dir.data.groups} onChanged={dir.reload} />
        </div>
      )}
    </>
  );
}
