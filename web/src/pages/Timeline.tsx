import { RecordList } from '../RecordList.js'
import { useSession } from '../session.js'

export function Timeline() {
  const { me } = useSession()
  return (
    <>
      <h1>My records</h1>
      <p className="lead">
        Every record a provider has issued to you. Each one is checked: who issued it, that they were an accredited provider at the time,
        and that it has not been changed since.
      </p>
      <RecordList patient={me.address} emptyText="You have no records yet. They appear here when a provider issues one to you." />
    </>
  )
}
