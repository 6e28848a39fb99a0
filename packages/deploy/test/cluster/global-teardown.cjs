module.exports = async () => {
  await globalThis.__catwalkCluster?.stop();
};
