import vendor.blobby
