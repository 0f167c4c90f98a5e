// Sends N track calls with @segment/analytics-node to the collect endpoint given on the command line.
import { Analytics } from '@segment/analytics-node'

const [host, writeKey, count] = process.argv.slice(2)
const errors = []
const analytics = new Analytics({ writeKey, host, path: '/v1/batch', maxEventsInBatch: 25, flushInterval: 200 })
analytics.on('error', (err) => errors.push(String(err && (err.reason || err.message || err))))
for (let i = 0; i < Number(count); i++) {
  analytics.track({ userId: `node-user-${i % 5}`, event: 'Ticket Purchased', messageId: `node-${i}`,
                    properties: { price: i } })
}
await analytics.closeAndFlush({ timeout: 20000 })
console.log(JSON.stringify({ errors }))
