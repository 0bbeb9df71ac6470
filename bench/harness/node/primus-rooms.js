'use strict';
// The room logic both Primus peers share (primus-server.js,
// primus-eio-server.js): rooms from the connection URL (?rooms=a,b) kept as
// a Set of sparks per room, which is how Primus itself does it
// (primus-rooms is a plugin over the same idea);
// {"publish":"<room>","data":x} writes x to every spark of the room; any
// other message is written back to its sender.
module.exports = function serveRooms(primus) {
  const rooms = new Map();
  primus.on('connection', (spark) => {
    const names = String(spark.query.rooms || '').split(',').filter(Boolean);
    for (const r of names) {
      let set = rooms.get(r);
      if (!set) rooms.set(r, (set = new Set()));
      set.add(spark);
    }
    spark.on('data', (data) => {
      if (data && typeof data === 'object' && typeof data.publish === 'string') {
        const set = rooms.get(data.publish);
        if (set) for (const s of set) s.write(data.data);
        return;
      }
      spark.write(data);
    });
    spark.on('end', () => {
      for (const r of names) rooms.get(r)?.delete(spark);
    });
  });
};
