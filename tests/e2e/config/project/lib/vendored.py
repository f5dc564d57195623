import vendor.blob.x
